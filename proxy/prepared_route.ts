/**
 * What a cached route means for every request it serves, worked out once when the route
 * enters the cache (`route_cache.ts`) instead of per request (issue 13, "a nearly free routing
 * path"): the backend's host and port, the `x-verified-*` fields that depend only on the route
 * (plane-0.5.md §7.2 step 7: all but `x-verified-path`), the JSON of `user_data`, which of them
 * are not valid header values, the response fields every answer gets (plane-0.5.md §7.2 steps
 * 10–11: CORS defaults, `Server`, `x-plane-backend-id`) and the `Host` last accepted for it
 * (plane-0.5.md §7.4). `mod.ts` hangs the route's monitor and tunnel hooks on it once, too.
 */
import type { ForwardDecision, Header } from "./engine/mod.ts";
import { isStaticToken, PLANE_HASH, PLANE_VERSION, type RouteInfo } from "../shared/mod.ts";

/** plane-0.5.md §7.2 step 10: `Server: Plane/<version>-<8-char hash>` on every response. */
export const SERVER_HEADER = `Plane/${PLANE_VERSION}-${PLANE_HASH}`;

/**
 * plane-0.5.md §7.2 step 10: added only when the response has none of them. `Authorization` is
 * named because browsers do not let `*` cover it.
 */
export const CORS_DEFAULTS: readonly Header[] = [
  ["Access-Control-Allow-Origin", "*"],
  ["Access-Control-Allow-Methods", "*"],
  ["Access-Control-Allow-Headers", "*, Authorization"],
];

const SERVER_FIELD: Header = ["Server", SERVER_HEADER];

/** The proxy's response fields after the upstream's own: what `responseHeaders` appends. */
export interface ResponseSuffix {
  /** Without CORS defaults (the response named a CORS field itself). */
  readonly plain: readonly Header[];
  /** With CORS defaults first. */
  readonly withCors: readonly Header[];
  /** The backend id whose `x-plane-backend-id` replaces the upstream's, or null. */
  readonly backendId: string | null;
}

/** The suffix for a backend's responses (null: a response the proxy makes itself). */
export function responseSuffix(backendId: string | null): ResponseSuffix {
  const plain: Header[] = [SERVER_FIELD];
  if (backendId !== null) plain.push(["x-plane-backend-id", backendId]);
  return { plain, withCors: [...CORS_DEFAULTS, ...plain], backendId };
}

/**
 * plane-0.5.md §7.2 steps 10–11 on an upstream response's fields: any `Server` (and, for a backend,
 * any `x-plane-backend-id`) is dropped, then `suffix` is appended, with the CORS defaults unless
 * the response names a CORS field itself. Names are compared by length first, so most fields cost
 * no lower-cased copy.
 */
export function applyResponseSuffix(headers: readonly Header[], suffix: ResponseSuffix): Header[] {
  const out: Header[] = [];
  let hasCors = false;
  const dropBackendId = suffix.backendId !== null;
  for (let i = 0; i < headers.length; i++) {
    const header = headers[i]!;
    const name = header[0];
    const n = name.length;
    // "server" 6; "x-plane-backend-id" 18; "access-control-allow-{origin,methods,headers}" 27/28.
    if (n === 6 || n === 18 || n === 27 || n === 28) {
      const lower = name.toLowerCase();
      if (lower === "server") continue;
      if (dropBackendId && lower === "x-plane-backend-id") continue;
      if (
        lower === "access-control-allow-origin" || lower === "access-control-allow-methods" ||
        lower === "access-control-allow-headers"
      ) hasCors = true;
    }
    out.push(header);
  }
  const tail = hasCors ? suffix.plain : suffix.withCors;
  for (let i = 0; i < tail.length; i++) out.push(tail[i]!);
  return out;
}

/** Control characters (other than tab) and DEL are not valid in a header value (RFC 9110 §5.5). */
export function validHeaderValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return false;
  }
  return true;
}

/**
 * The forward hooks `mod.ts` builds once per cached route (plane-0.5.md §7.5 monitor, tunnel
 * registry).
 */
export type RouteHooks = Pick<ForwardDecision, "onResponse" | "onUpgrade">;

export interface PreparedRoute {
  readonly route: RouteInfo;
  readonly hostname: string;
  readonly port: number;
  /** The route's cluster, lower-cased (plane-0.5.md §7.4 compares hosts case-insensitively). */
  readonly cluster: string;
  /** Valid `x-verified-username` and `-user-data` fields: they go before `x-verified-path`. */
  readonly identityBefore: readonly Header[];
  /** Valid `x-verified-backend` and `-secret` fields: they go after it. */
  readonly identityAfter: readonly Header[];
  /**
   * Names of route fields left out because their value is not a valid header value, those
   * sent before `x-verified-path` and those after it (almost always both empty).
   */
  readonly skippedBefore: readonly string[];
  readonly skippedAfter: readonly string[];
  /** plane-0.5.md §7.2 steps 10–11 for this backend's responses, as a function the engine calls. */
  readonly responseHeaders: NonNullable<ForwardDecision["responseHeaders"]>;
  /** The last `Host` value accepted for this route, per listener (plain, TLS). */
  acceptedHost: [plain: string | null, tls: string | null];
  /** Set once by `mod.ts`. */
  hooks: RouteHooks | null;
}

/** The upstream host and port of a route's `ip:port` (or `[v6]:port`) address. */
export function splitAddress(address: string): { hostname: string; port: number } {
  const colon = address.lastIndexOf(":");
  let hostname = address.slice(0, colon);
  if (hostname.startsWith("[") && hostname.endsWith("]")) hostname = hostname.slice(1, -1);
  return { hostname, port: Number(address.slice(colon + 1)) };
}

/** Everything about `route` (answered for `token`) that is the same for each of its requests. */
export function prepareRoute(token: string, route: RouteInfo): PreparedRoute {
  const before: Header[] = [];
  if (route.user !== null) before.push(["x-verified-username", route.user]);
  // Dynamic tokens always carry user data (`{}` when none); static tokens never do (plane-0.5.md
  // §7.2).
  if (!isStaticToken(token)) {
    before.push(["x-verified-user-data", JSON.stringify(route.user_data ?? {})]);
  }
  const after: Header[] = [
    ["x-verified-backend", route.backend_id],
    ["x-verified-secret", route.secret_token],
  ];
  const invalid = (headers: Header[]) =>
    headers.filter(([, value]) => !validHeaderValue(value)).map(([name]) => name);
  const valid = (headers: Header[]) => headers.filter(([, value]) => validHeaderValue(value));
  const suffix = responseSuffix(route.backend_id);
  return {
    route,
    ...splitAddress(route.address),
    cluster: route.cluster.toLowerCase(),
    identityBefore: valid(before),
    identityAfter: valid(after),
    skippedBefore: invalid(before),
    skippedAfter: invalid(after),
    responseHeaders: (_status, upstream) => applyResponseSuffix(upstream, suffix),
    acceptedHost: [null, null],
    hooks: null,
  };
}
