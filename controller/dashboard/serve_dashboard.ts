/**
 * `GET /dashboard` and its two assets (decisions.md §3.10): embedded strings, so the
 * controller needs no filesystem (`deno serve`, Deno Deploy). The files are public — they hold
 * no data; every number on the page comes from the authenticated `/ctrl/*` API.
 *
 * Every answer carries a CSP allowing only this origin's script, style and requests, no
 * framing (`frame-ancestors 'none'` and, for older browsers, `X-Frame-Options: DENY`), no
 * referrer (a backend id in the hash never leaves), and `nosniff`.
 */
import { DASHBOARD_HTML } from "./dashboard_html.ts";
import { DASHBOARD_JS } from "./dashboard_js.ts";
import { DASHBOARD_CSS } from "./dashboard_css.ts";

export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** Headers of every dashboard response. */
export function dashboardHeaders(contentType: string): Headers {
  return new Headers({
    "content-type": contentType,
    "content-security-policy": DASHBOARD_CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    // Small files: revalidate each time so an upgraded controller serves its own script.
    "cache-control": "no-cache",
  });
}

const ASSETS = {
  page: { body: DASHBOARD_HTML, type: "text/html; charset=utf-8" },
  script: { body: DASHBOARD_JS, type: "text/javascript; charset=utf-8" },
  style: { body: DASHBOARD_CSS, type: "text/css; charset=utf-8" },
} as const;

export type DashboardAsset = keyof typeof ASSETS;

export function serveDashboard(asset: DashboardAsset, req: Request): Response {
  const { body, type } = ASSETS[asset];
  return new Response(req.method === "HEAD" ? null : body, { headers: dashboardHeaders(type) });
}
