/**
 * The proxy's request rules as pure functions (plane-0.5.md §7.2, §7.4): what to answer
 * without a route (`/ready`, `/`, `/favicon.ico`, no token), how a token is cut from the
 * path, how a route turns into an upstream head (Host check, `x-verified-*`,
 * `x-forwarded-*`), and which headers every response carries (CORS defaults, `Server`,
 * `x-plane-backend-id`).
 * No I/O: `mod.ts` feeds these the route cache's answers.
 */
import type {
  ConnectionInfo,
  Decision,
  EngineErrorResponse,
  ForwardDecision,
  Header,
  RequestHead,
  RespondDecision,
} from "./engine/mod.ts";
import {
  isStaticToken,
  matchHost,
  nameError,
  PATH_ROUTE_PREFIX,
  type RouteInfo,
} from "../shared/mod.ts";
import { isReservedHeader } from "./reserved_header.ts";
import { engineErrorMessage, errorContent } from "./error_body.ts";
import {
  applyResponseSuffix,
  type PreparedRoute,
  prepareRoute,
  responseSuffix,
  validHeaderValue,
} from "./prepared_route.ts";

export { CORS_DEFAULTS, SERVER_HEADER, splitAddress } from "./prepared_route.ts";

/**
 * The longest token the controller accepts in a `RouteInfoRequest` (shared/protocol.ts): a
 * longer one could never resolve, so it is answered 410 without asking (real tokens are 43
 * or 45 characters, plane-0.5.md §14.4).
 */
export const MAX_TOKEN_LENGTH = 1024;

/**
 * Browsers ask every page's origin for `/favicon.ico`, a session page included. No token can
 * be `favicon.ico` (tokens are base64url, static ones `s.…`), so it is answered 404 without
 * asking the controller, with the fix in the message. Plane answers 410 (an unknown token),
 * which put a "Gone" in the console of every session page, live ones too.
 */
const FAVICON_PATH = "/favicon.ico";
const FAVICON_MESSAGE = "No icon at /favicon.ico: the proxy serves only the connection URL's " +
  'paths; link the app\'s icon relative to its page (<link rel="icon" href="favicon.ico">)';

/** A request target split into its path and its query (with the `?`, or ""). */
export interface Target {
  path: string;
  query: string;
}

/**
 * Splits a request target. Origin-form is the norm; absolute-form (RFC 9112 §3.2.2) is
 * reduced to its path and query; anything else (`*`, authority-form) has no path (null).
 */
export function splitTarget(target: string): Target | null {
  let rest = target;
  if (!rest.startsWith("/")) {
    const match = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(rest);
    if (!match) return null;
    rest = rest.slice(match[0].length);
    if (!rest.startsWith("/")) rest = `/${rest}`;
  }
  const hash = rest.indexOf("#");
  if (hash >= 0) rest = rest.slice(0, hash);
  const q = rest.indexOf("?");
  return q < 0 ? { path: rest, query: "" } : { path: rest.slice(0, q), query: rest.slice(q) };
}

export interface TokenTarget {
  token: string;
  /** What the backend is asked for: the target without a dynamic token, unchanged for `s.` tokens. */
  upstreamTarget: string;
}

/**
 * plane-0.5.md §7.2 step 3 (Plane `get_and_maybe_remove_bearer_token`): the token is the first path
 * segment. A dynamic token is removed (`/tok/a/b?x=1` → `/a/b?x=1`, `/tok` and `/tok/` →
 * `/`); a static token (`s.…`) leaves the target untouched so apps can build absolute links
 * with it. Null when the first segment is empty.
 */
export function extractToken(target: Target): TokenTarget | null {
  if (!target.path.startsWith("/")) return null;
  const full = target.path.slice(1);
  const slash = full.indexOf("/");
  const token = slash < 0 ? full : full.slice(0, slash);
  const rest = slash < 0 ? "" : full.slice(slash + 1);
  if (token === "") return null;
  if (isStaticToken(token)) return { token, upstreamTarget: target.path + target.query };
  return { token, upstreamTarget: `/${rest}${target.query}` };
}

/**
 * Path routing (jamsocket-api.md §10.2, local development only): `/_plane_backend=<id>/rest?q`
 * routes to backend `id` and asks it for `/rest?q`; `/_plane_backend=<id>` alone asks for `/`.
 * Unlike Plane 0.3, a query right after the id (`/_plane_backend=abc?x=1`) is kept as the
 * query, not swallowed into the id. Null when the prefix is missing or the id is not a name.
 */
export function extractPathRoute(target: Target): TokenTarget | null {
  const prefix = `/${PATH_ROUTE_PREFIX}`;
  if (!target.path.startsWith(prefix)) return null;
  const full = target.path.slice(prefix.length);
  const slash = full.indexOf("/");
  const id = slash < 0 ? full : full.slice(0, slash);
  const rest = slash < 0 ? "" : full.slice(slash + 1);
  if (nameError(id, "") !== null) return null;
  return { token: `${PATH_ROUTE_PREFIX}${id}`, upstreamTarget: `/${rest}${target.query}` };
}

/**
 * Whether a token names a backend by id the way path routing does (`_plane_backend=<id>`), in
 * any spelling a lenient decoder might read that way: percent-encoded (`%5Fplane_backend%3D`)
 * or in another case. Only a proxy started with `--path-routing` resolves the prefix (issue 10
 * finding 1); any other proxy refuses it without asking the controller, so a backend id, which
 * is public (`x-plane-backend-id`, `/pub/b/{id}/status`), is never a credential.
 */
export function isPathRouteSpelling(token: string): boolean {
  // Hot path (every request): without an escape the token reads as itself, and the prefix
  // starts with "_".
  if (token.charCodeAt(0) !== 0x5f && !token.includes("%")) return false;
  let decoded = token;
  try {
    decoded = decodeURIComponent(token);
  } catch {
    // A malformed escape: compare the raw text.
  }
  return decoded.toLowerCase().startsWith(PATH_ROUTE_PREFIX);
}

/** A request that needs a route: its token and how to rewrite it once the route is known. */
export interface RoutedRequest {
  kind: "route";
  token: string;
  /** Routed by `/_plane_backend=<id>/`: unknown backends are 404 and the Host is not checked. */
  pathRouted?: boolean;
  upstreamTarget: string;
  /**
   * plane-0.5.md §7.2 step 7: the original path, token included, without the query
   * (`x-verified-path`).
   */
  path: string;
}

export interface PrerouteOptions {
  /** Whether the controller connection is up right now (`/ready`). */
  ready: boolean;
  rootRedirectUrl?: string | undefined;
  /** Route by `/_plane_backend=<id>/` instead of tokens (exclusive, as in Plane 0.3). */
  pathRouting?: boolean | undefined;
}

/** plane-0.5.md §7.2 steps 1–3: answers that need no route, or the token to look up. */
export function preroute(
  head: RequestHead,
  options: PrerouteOptions,
): RespondDecision | RoutedRequest {
  const request = head.headers;
  const target = splitTarget(head.target);
  if (target === null) return respond(400, { request });
  if (target.path === "/ready") return respond(options.ready ? 200 : 503, { request });
  if (target.path === "/") {
    // plane-0.5.md §7.2 step 2: answered before any route lookup (proxy_root_no_redirect).
    if (options.rootRedirectUrl === undefined) return respond(400, { request });
    return respond(301, { headers: [["Location", options.rootRedirectUrl]] });
  }
  if (target.path === FAVICON_PATH) return respond(404, { message: FAVICON_MESSAGE, request });
  if (options.pathRouting) {
    // Exclusive: without the prefix (or with a bad id) it is a 400 (jamsocket-api.md §10.2).
    const routed = extractPathRoute(target);
    if (routed === null) return respond(400, { request });
    return { kind: "route", ...routed, pathRouted: true, path: target.path };
  }
  const extracted = extractToken(target);
  if (extracted === null) return respond(400, { request });
  // 410, as for any token that routes nowhere: what Plane 0.5 (no path routing) answers for it,
  // and it tells a prober nothing about this proxy's mode.
  if (extracted.token.length > MAX_TOKEN_LENGTH) return respond(410, { request });
  if (isPathRouteSpelling(extracted.token)) return respond(410, { request });
  // Written out, not spread: this runs for every request (issue 13).
  return {
    kind: "route",
    token: extracted.token,
    upstreamTarget: extracted.upstreamTarget,
    path: target.path,
  };
}

/** What the route cache answered for a token. */
export type RouteResult =
  /** `prepared`: the route's per-request constants (the cache builds them once). */
  | { kind: "found"; route: RouteInfo; prepared?: PreparedRoute }
  | { kind: "gone" }
  /** The route stayed pending past the wait limit (decisions.md §2.10: bounded waits → 504). */
  | { kind: "timeout" };

/** Callbacks the connection monitor hangs on a forwarded request (plane-0.5.md §7.5). */
export interface ForwardHooks {
  onResponse?(status: number): void;
  /** `close` ends the tunnel from outside (a revoked token, issue 10 finding 5). */
  onUpgrade?(close?: () => void): () => void;
}

/** The one value of header `name` (case-insensitive); null when absent, "many" when repeated. */
export function singleHeader(headers: readonly Header[], name: string): string | null | "many" {
  const lower = name.toLowerCase();
  let found: string | null = null;
  for (let i = 0; i < headers.length; i++) {
    const [n, v] = headers[i]!;
    // Length first: most fields cost no lower-cased copy (hot path, issue 13).
    if (n.length !== lower.length || n.toLowerCase() !== lower) continue;
    if (found !== null) return "many";
    found = v;
  }
  return found;
}

/** Why a request's Host does not fit its route: the status and a message naming the fix. */
export interface HostProblem {
  status: 400 | 403;
  message: string;
}

/**
 * plane-0.5.md §7.4 against the route's cluster: missing (or repeated) or malformed Host → 400; a
 * host outside the cluster, or on another port (`shared/cluster.ts` `matchHost`) → 403; a backend
 * with a subdomain only answers on that subdomain → 403. `tls`: the request came in on the HTTPS
 * listener (its default port is 443, the plain one's 80). Null when the host is acceptable.
 */
export function hostError(
  headers: readonly Header[],
  route: RouteInfo,
  tls = false,
): HostProblem | null {
  const host = singleHeader(headers, "host");
  if (host === null || host === "many") {
    return {
      status: 400,
      message: "Missing or repeated Host header: send one Host, the host of the connection URL",
    };
  }
  const cluster = route.cluster.toLowerCase();
  const match = matchHost(host.trim().toLowerCase(), cluster, tls ? 443 : 80);
  if (!match.ok) {
    return match.status === 400
      ? { status: 400, message: "Invalid Host header: send host[:port] of the connection URL" }
      : {
        status: 403,
        message: `Host not in this backend's cluster: use the connection URL's host (${cluster})`,
      };
  }
  if (route.subdomain !== null && match.subdomain !== route.subdomain) {
    return {
      status: 403,
      message:
        "Host not allowed for this backend: it answers only on its own subdomain; use the connection URL's host",
    };
  }
  return null;
}

/**
 * `hostError` for a prepared route, remembering the last `Host` value it accepted per listener
 * kind: a session's requests all carry the same one, so the parse and the comparison run once
 * (the answer depends only on the value, the route and `tls`).
 */
function preparedHostError(
  headers: readonly Header[],
  prepared: PreparedRoute,
  tls: boolean,
): HostProblem | null {
  const host = singleHeader(headers, "host");
  const slot = tls ? 1 : 0;
  if (host !== null && host !== "many" && host === prepared.acceptedHost[slot]) return null;
  const problem = hostError(headers, prepared.route, tls);
  if (problem === null && typeof host === "string") prepared.acceptedHost[slot] = host;
  return problem;
}

/** `::ffff:1.2.3.4` (an IPv4 peer on a dual-stack socket) → `1.2.3.4`, as Plane reports it. */
export function peerIp(remoteAddress: string): string {
  return remoteAddress.startsWith("::ffff:") && remoteAddress.includes(".")
    ? remoteAddress.slice(7)
    : remoteAddress;
}

/**
 * The names a client's `Connection` fields list (lower-cased), apart from the options the
 * engine acts on itself; null when there are none (RFC 9110 §7.6.1).
 */
function connectionOptions(headers: readonly Header[]): Set<string> | null {
  let names: Set<string> | null = null;
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!;
    if (h[0].length !== 10 || h[0].toLowerCase() !== "connection") continue;
    for (const part of h[1].split(",")) {
      const option = part.trim().toLowerCase();
      if (option === "" || option === "close" || option === "keep-alive" || option === "upgrade") {
        continue;
      }
      (names ??= new Set()).add(option);
    }
  }
  return names;
}

/**
 * plane-0.5.md §7.1 and §7.2 step 7: the upstream headers. A client must not forge the proxy's own
 * headers, so every inbound field that reads as one (`x-verified-*`, `x-forwarded-for`,
 * `x-forwarded-proto`, with `_` as `-` in any case: `reserved_header.ts`) is dropped. The client's
 * `Connection` list removes the client's own fields it names, never `Host`, and is not forwarded:
 * the engine writes its own `Connection`, and a list passed on could name a field the proxy adds
 * (issue 10, finding 2a). Everything else is kept in order; then the proxy's own headers are
 * appended. Returns the headers and the names of any skipped because their value was not a valid
 * header value.
 */
export function upstreamHeaders(
  head: RequestHead,
  connection: ConnectionInfo,
  request: RoutedRequest,
  route: RouteInfo | PreparedRoute,
): { headers: Header[]; skipped: readonly string[] } {
  const prepared = "identityBefore" in route ? route : prepareRoute(request.token, route);
  const inbound = head.headers;
  const nominated = connectionOptions(inbound);
  const headers: Header[] = [];
  for (let i = 0; i < inbound.length; i++) {
    const header = inbound[i]!;
    const name = header[0];
    if (isReservedHeader(name)) continue;
    if (name.length === 10 && name.toLowerCase() === "connection") continue;
    if (nominated !== null) {
      const lower = name.toLowerCase();
      if (lower !== "host" && nominated.has(lower)) continue;
    }
    headers.push(header);
  }
  headers.push(["x-forwarded-for", peerIp(connection.remoteAddress)]);
  headers.push(connection.tls ? FORWARDED_HTTPS : FORWARDED_HTTP);
  // Only x-verified-path depends on the request; the rest was built with the route.
  const before = prepared.identityBefore;
  for (let i = 0; i < before.length; i++) headers.push(before[i]!);
  const pathOk = validHeaderValue(request.path);
  if (pathOk) headers.push(["x-verified-path", request.path]);
  const after = prepared.identityAfter;
  for (let i = 0; i < after.length; i++) headers.push(after[i]!);
  const { skippedBefore, skippedAfter } = prepared;
  const skipped = pathOk && skippedBefore.length === 0 && skippedAfter.length === 0
    ? NO_NAMES
    : [...skippedBefore, ...(pathOk ? [] : ["x-verified-path"]), ...skippedAfter];
  return { headers, skipped };
}

const FORWARDED_HTTP: Header = ["x-forwarded-proto", "http"];
const FORWARDED_HTTPS: Header = ["x-forwarded-proto", "https"];
const NO_NAMES: readonly string[] = Object.freeze([]);

/**
 * plane-0.5.md §7.2 steps 10–11: CORS defaults unless the response names any CORS header itself,
 * our `Server` in place of any other, and (for proxied responses) `x-plane-backend-id`.
 */
export function responseHeaders(headers: readonly Header[], backendId: string | null): Header[] {
  return applyResponseSuffix(
    headers,
    backendId === null ? PROXY_SUFFIX : responseSuffix(backendId),
  );
}

const PROXY_SUFFIX = responseSuffix(null);

/** Headers of a response the proxy (or its engine) generates: CORS defaults and `Server`. */
export function errorHeaders(): Header[] {
  return [...PROXY_SUFFIX.withCors];
}

export interface RespondOptions {
  /** Headers besides the content and default ones (a redirect's `Location`). */
  headers?: readonly Header[] | undefined;
  /** Replaces the status's default error message. */
  message?: string | undefined;
  /** The request's header fields: an error is the HTML page when their `Accept` prefers it. */
  request?: readonly Header[] | undefined;
}

/** All of a request's `Accept` fields as one list (RFC 9110 §5.3); null when there is none. */
function acceptOf(headers: readonly Header[]): string | null {
  let accept: string | null = null;
  for (const [name, value] of headers) {
    if (name.length === 6 && name.toLowerCase() === "accept") {
      accept = accept === null ? value : `${accept}, ${value}`;
    }
  }
  return accept;
}

/**
 * A proxy-generated response with CORS and `Server` headers. Plane sends an empty body
 * (plane-0.5.md §7.2); an error here (4xx/5xx) carries `error_body.ts`'s JSON, or its HTML page
 * when the request prefers HTML (issue 10 finding 7, issue 12 item 3), with `message` or the
 * status's default one.
 */
export function respond(status: number, options: RespondOptions = {}): RespondDecision {
  const extra = options.headers ?? [];
  if (status < 400) return { kind: "respond", status, headers: [...extra, ...errorHeaders()] };
  const accept = options.request === undefined ? null : acceptOf(options.request);
  const content = errorContent(status, { message: options.message, accept });
  return {
    kind: "respond",
    status,
    headers: [...extra, ...content.headers, ...errorHeaders()],
    body: content.body,
  };
}

/**
 * What the engine answers on its own (framing errors, timeouts, 502): the same bodies. `head`
 * is the request's when the engine parsed one (a 502 or a body timeout), so a browser gets
 * the page; a framing error has none and gets JSON.
 */
export function engineErrorResponse(
  status: number,
  reason: string,
  head?: RequestHead,
): EngineErrorResponse {
  const { headers, body } = respond(status, {
    message: engineErrorMessage(status, reason),
    request: head?.headers,
  });
  return { headers, body: body ?? "" };
}

/**
 * plane-0.5.md §7.2 steps 4–11 once the cache answered: 410 for no route, 504 for a wait past the
 * limit, the Host checks, then a forward to the backend's address keeping the original Host.
 */
export function routeDecision(
  head: RequestHead,
  connection: ConnectionInfo,
  request: RoutedRequest,
  result: RouteResult,
  hooks: ForwardHooks = {},
): { decision: Decision; skipped: readonly string[] } {
  // Error answers pick JSON or the page by the request's Accept (work done only on errors).
  if (result.kind === "gone") {
    const status = request.pathRouted ? 404 : 410;
    return { decision: respond(status, { request: head.headers }), skipped: [] };
  }
  if (result.kind === "timeout") {
    return { decision: respond(504, { request: head.headers }), skipped: [] };
  }
  const prepared = result.prepared ?? prepareRoute(request.token, result.route);
  // Path routing replaces host-based routing (jamsocket-api.md §10.2): any Host reaches the backend
  // by its id.
  const problem = request.pathRouted
    ? null
    : preparedHostError(head.headers, prepared, connection.tls);
  if (problem !== null) {
    const decision = respond(problem.status, { message: problem.message, request: head.headers });
    return { decision, skipped: [] };
  }
  const { headers, skipped } = upstreamHeaders(head, connection, request, prepared);
  const decision: ForwardDecision = {
    kind: "forward",
    hostname: prepared.hostname,
    port: prepared.port,
    head: { method: head.method, target: request.upstreamTarget, version: head.version, headers },
    responseHeaders: prepared.responseHeaders,
  };
  // The proxy's hooks are the route's own (`mod.ts`): assigned, not made, per request.
  if (hooks.onResponse !== undefined) decision.onResponse = hooks.onResponse;
  if (hooks.onUpgrade !== undefined) decision.onUpgrade = hooks.onUpgrade;
  return { decision, skipped };
}
