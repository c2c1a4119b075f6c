/**
 * The dashboard's one HTML page (decisions.md §3.10): landmarks and the live region
 * only; `dashboard_js.ts` renders each page into `<main>`. No inline script or style, so the
 * CSP of `serve_dashboard.ts` can forbid both.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Plane dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/app.css">
<script type="module" src="/dashboard/app.js"></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
  <p class="brand">Plane</p>
  <nav id="nav" aria-label="Dashboard" hidden>
    <ul>
      <li><a href="#/cluster" data-page="cluster">Cluster</a></li>
      <li><a href="#/backends" data-page="backends">Backends</a></li>
    </ul>
    <label for="cluster">Cluster</label>
    <select id="cluster"></select>
    <button type="button" id="logout" hidden>Log out</button>
  </nav>
</header>
<main id="main" tabindex="-1"><p>Loading…</p></main>
<p id="announce" class="visually-hidden" role="status" aria-live="polite"></p>
<noscript><p>The Plane dashboard needs JavaScript.</p></noscript>
</body>
</html>
`;
