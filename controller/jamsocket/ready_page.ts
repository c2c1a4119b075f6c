/**
 * `ready_url` (jamsocket-api.md §5, §11 item 10): `GET /ready/{backend}/{token}/`, a small page
 * that waits for the backend and then redirects to its connection URL. A ready backend is
 * redirected at once (302); a terminated one gets a 410 page; otherwise the page follows the
 * v2 status stream and, without JavaScript, reloads itself every 2 s. The token must be one of
 * the backend's, so the page cannot be made to redirect anywhere else.
 */
import type { ControllerContext } from "../context.ts";
import type { Params } from "../router.ts";
import { HttpError } from "../http_error.ts";
import { connectionUrl, nameError } from "../../shared/mod.ts";
import { readyTarget } from "./store.ts";

/** The path of a backend's ready page under the controller's base URL. */
export function readyPath(backendId: string, token: string): string {
  return `/ready/${backendId}/${token}/`;
}

const TOKEN = /^[A-Za-z0-9._-]{1,128}$/;

/** JSON safe inside an inline `<script>`. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replaceAll("<", "\\u003c").replaceAll(">", "\\u003e");
}

function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

/** The waiting page: follows `streamUrl` and goes to `url` on `ready`. */
export function waitingPage(options: { url: string; streamUrl: string }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Starting…</title>
<noscript><meta http-equiv="refresh" content="2"></noscript>
<style>
body{font-family:system-ui,sans-serif;display:grid;place-items:center;min-height:90vh;color:#333}
.spinner{width:2rem;height:2rem;border:3px solid #ddd;border-top-color:#555;border-radius:50%;
animation:spin 1s linear infinite;margin:0 auto 1rem}
@keyframes spin{to{transform:rotate(360deg)}}
</style>
</head>
<body>
<main><div class="spinner"></div><p id="message">Starting your session…</p>
<p><a href="${escapeHtml(options.url)}">Continue</a> if nothing happens.</p></main>
<script>
(function () {
  var url = ${scriptJson(options.url)};
  var source = new EventSource(${scriptJson(options.streamUrl)});
  source.onmessage = function (event) {
    var state;
    try { state = JSON.parse(event.data); } catch (e) { return; }
    if (state.status === "ready") { source.close(); location.replace(url); }
    else if (state.status === "terminated") {
      source.close();
      document.getElementById("message").textContent = "This session has ended.";
    }
  };
})();
</script>
</body>
</html>
`;
}

const ENDED_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Session ended</title></head>
<body><p>This session has ended.</p></body></html>
`;

function html(body: string, status = 200): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" },
  });
}

export async function handleReadyPage(
  ctx: ControllerContext,
  _req: Request,
  params: Params,
): Promise<Response> {
  const backend = params.backend ?? "";
  const token = params.token ?? "";
  const notFound = new HttpError(404, "NotFound", "No such backend and token");
  if (nameError(backend, "") !== null || !TOKEN.test(token)) throw notFound;
  const target = await readyTarget(ctx.db, backend, token);
  if (!target || !target.tokenValid) throw notFound;
  const url = connectionUrl(target.cluster, token, target.subdomain);
  if (target.status === "ready") {
    return new Response(null, {
      status: 302,
      headers: { location: url, "cache-control": "no-store" },
    });
  }
  if (target.status === "terminated") return html(ENDED_PAGE, 410);
  return html(
    waitingPage({ url, streamUrl: `${ctx.controllerUrl}/v2/backend/${backend}/status/stream` }),
  );
}
