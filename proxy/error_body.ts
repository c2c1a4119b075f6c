/**
 * The one body of every response the proxy makes itself (route-level 400/403/404/410/503/504
 * and the engine's 400/408/431/502…): JSON `{id, kind, message}`, the shape of the
 * controller's API errors (shared/api_error.ts), with a message that says what is wrong and
 * how to fix it (issue 10, finding 7); or, for a browser (`Accept` prefers `text/html`, as a
 * navigation does), a short HTML page saying in plain words that the session ended, is
 * starting or cannot be reached, with the same message and id (issue 12, item 3: a dead
 * session URL was a blank page). Plane 0.5 sends these with an empty body (plane-0.5.md
 * §7.2); a client that ignores bodies sees no difference. Only error responses come here, so
 * the negotiation costs the proxied hot path nothing.
 */
import type { Header } from "./engine/mod.ts";
import { randomSuffix } from "../shared/mod.ts";

/** The content type of `errorBody`. */
export const ERROR_CONTENT_TYPE = "application/json";
/** The content type of `errorPage`. */
export const HTML_CONTENT_TYPE = "text/html; charset=utf-8";

/** Kind and default message per status. */
const ERRORS: Record<number, readonly [kind: string, message: string]> = {
  400: [
    "InvalidRequest",
    "Invalid request: request /TOKEN/... with the connection URL the controller returned",
  ],
  403: ["Forbidden", "Host not allowed for this backend: use the host of the connection URL"],
  404: ["NotFound", "No backend with this id: check the backend id in the URL"],
  405: ["MethodNotAllowed", "Method not supported by the proxy: CONNECT cannot be proxied"],
  408: [
    "RequestTimeout",
    "Request timed out: its head or body stopped arriving; send the whole request without pausing",
  ],
  410: [
    "Gone",
    "Connection token unknown, expired or revoked: connect again for a new connection URL",
  ],
  431: [
    "HeadersTooLarge",
    "Request head too large: send at most 16 KiB of request line and header fields",
  ],
  500: ["Other", "Internal error: the proxy could not route this request; report this id"],
  502: [
    "BadGateway",
    "Cannot reach the backend: it refused the connection, closed it or answered invalid HTTP; " +
    "retry, then check the backend's logs",
  ],
  503: ["Unavailable", "Proxy not connected to the controller yet: retry in a moment"],
  504: [
    "GatewayTimeout",
    "Backend did not become ready in time: retry, or check its status at /pub/b/BACKEND_ID/status",
  ],
  505: ["HttpVersionNotSupported", "Unsupported HTTP version: use HTTP/1.1 or HTTP/1.0"],
};

/** The JSON body for a proxy-made `status`; `message` replaces the status's default one. */
export function errorBody(status: number, message?: string, id = randomSuffix()): string {
  const [kind, fallback] = errorOf(status);
  return JSON.stringify({ id, kind, message: message ?? fallback });
}

function errorOf(status: number): readonly [kind: string, message: string] {
  return ERRORS[status] ?? ["Other", `Request failed: the proxy answered ${status}`];
}

/** What a browser user reads: the page title, its heading and what to do. */
function pageWords(status: number): readonly [title: string, heading: string, text: string] {
  switch (status) {
    case 410:
      return [
        "Session ended",
        "This session has ended",
        "The link you opened belongs to a session that has ended, has expired or was never " +
        "valid. Go back to the app to start a new session.",
      ];
    case 504:
      return [
        "Session starting",
        "This session is still starting",
        "It did not become ready in time. Reload the page to try again.",
      ];
    case 502:
      return [
        "Session unreachable",
        "This session cannot be reached",
        "Its server did not answer or stopped. Reload the page to try again; if this keeps " +
        "happening, go back to the app to start a new session.",
      ];
    case 503:
      return [
        "Session unreachable",
        "This session cannot be reached yet",
        "The proxy is still connecting. Reload the page in a moment.",
      ];
    case 404:
      return [
        "Not found",
        "Nothing is here",
        "This address does not lead to a session. Check the link, or go back to the app to " +
        "start a new session.",
      ];
  }
  if (status < 500) {
    return [
      "Request refused",
      "This request could not be served",
      "The proxy could not accept this request. Check the link, or go back to the app to " +
      "start a new session.",
    ];
  }
  return [
    "Error",
    "Something went wrong",
    "The proxy could not serve this page. Reload to try again.",
  ];
}

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Text made safe inside HTML elements and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/**
 * The HTML page for a proxy-made `status`: plain words first, then the error's message and
 * id for whoever reports it. Inline style only; the `data:` icon keeps the browser from
 * asking for `/favicon.ico`, which no token route can serve.
 */
export function errorPage(
  status: number,
  options: { message?: string | undefined; id?: string | undefined } = {},
): string {
  const [title, heading, text] = pageWords(status);
  const message = options.message ?? errorOf(status)[1];
  const id = options.id ?? randomSuffix();
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:12vh auto;padding:0 1em;\
color:#222}h1{font-size:1.6em}.detail,.id{color:#666;font-size:.9em}</style>
</head>
<body>
<h1>${escapeHtml(heading)}</h1>
<p>${escapeHtml(text)}</p>
<p class="detail">${escapeHtml(message)}</p>
<p class="id">Error ${status} · id <code>${escapeHtml(id)}</code></p>
</body>
</html>
`;
}

/**
 * The quality `accept` gives `type/subtype`: that of the most specific matching range (RFC
 * 9110 §12.5.1; media-type parameters are not compared), 0 when none matches. A range with a
 * malformed weight is skipped.
 */
function quality(accept: string, type: string, subtype: string): number {
  let best = -1;
  let q = 0;
  for (const element of accept.split(",")) {
    const parts = element.split(";");
    const range = parts[0]!.trim().toLowerCase();
    const slash = range.indexOf("/");
    if (slash <= 0) continue;
    const t = range.slice(0, slash);
    const s = range.slice(slash + 1);
    // Exact type, then `type/*`, then `*/*` (-1: the range does not match).
    let specificity = -1;
    if (t === type) specificity = s === subtype ? 2 : s === "*" ? 1 : -1;
    else if (t === "*" && s === "*") specificity = 0;
    if (specificity < 0 || specificity < best) continue;
    let weight = 1;
    for (let i = 1; i < parts.length; i++) {
      const [name, value] = parts[i]!.split("=");
      if (name?.trim().toLowerCase() !== "q") continue;
      const text = value?.trim() ?? "";
      weight = /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(text) ? Number(text) : NaN;
    }
    if (Number.isNaN(weight)) continue;
    if (specificity > best || weight > q) q = weight;
    best = specificity;
  }
  return q;
}

/**
 * Whether a request's `Accept` (all its fields joined by commas; null when absent) prefers
 * `text/html` to `application/json`, as a browser navigation does. A bare wildcard range, `fetch()`'s
 * default and an image request (a favicon) get JSON.
 */
export function prefersHtml(accept: string | null): boolean {
  if (accept === null) return false;
  return quality(accept, "text", "html") > quality(accept, "application", "json");
}

/**
 * Content headers and body of a proxy-made error: the HTML page when `accept` prefers it,
 * the JSON body otherwise. `Vary: Accept` because the answer depends on it (RFC 9110
 * §12.5.5); the page is never cached and may load nothing but its inline style.
 */
export function errorContent(
  status: number,
  options: { message?: string | undefined; accept?: string | null | undefined } = {},
): { headers: Header[]; body: string } {
  if (!prefersHtml(options.accept ?? null)) {
    return {
      headers: [["Content-Type", ERROR_CONTENT_TYPE], ["Vary", "Accept"]],
      body: errorBody(status, options.message),
    };
  }
  return {
    headers: [
      ["Content-Type", HTML_CONTENT_TYPE],
      ["Vary", "Accept"],
      ["Cache-Control", "no-store"],
      ["Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:"],
    ],
    body: errorPage(status, { message: options.message }),
  };
}

/**
 * The message for an error the engine found itself, from its short reason (e.g. "both
 * Content-Length and Transfer-Encoding"): framing problems name what to fix.
 */
export function engineErrorMessage(status: number, reason: string): string | undefined {
  if (status === 400 && reason !== "") {
    return `Cannot read the request: ${reason}; send one well-formed HTTP/1.1 request`;
  }
  return undefined;
}
