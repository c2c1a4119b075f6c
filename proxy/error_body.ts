/**
 * The one body of every response the proxy makes itself (route-level 400/403/404/410/503/504
 * and the engine's 400/408/431/502…): JSON `{id, kind, message}`, the shape of the
 * controller's API errors (shared/api_error.ts), with a message that says what is wrong and
 * how to fix it (issue 10, finding 7). Plane 0.5 sends these with an empty body (behaviour doc
 * §7.2); a client that ignores bodies sees no difference. Kept in one place so a later HTML
 * page for browsers can replace it.
 */
import { randomSuffix } from "../shared/names.ts";

/** The content type of `errorBody`. */
export const ERROR_CONTENT_TYPE = "application/json";

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
export function errorBody(status: number, message?: string): string {
  const [kind, fallback] = ERRORS[status] ??
    ["Other", `Request failed: the proxy answered ${status}`];
  return JSON.stringify({ id: randomSuffix(), kind, message: message ?? fallback });
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
