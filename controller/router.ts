/**
 * A small path router: patterns like `/ctrl/c/:cluster/state`, matched segment by segment.
 * Parameters are percent-decoded; a malformed escape, or a control character such as `%00`
 * (which Postgres cannot store or compare, issue 10), is a 400 naming the parameter.
 */
import type { ControllerContext } from "./context.ts";
import { type ErrorFormat, HttpError } from "./http_error.ts";
import type { CorsPolicy } from "./cors.ts";

export type Params = Readonly<Record<string, string>>;

export interface RequestInfo {
  /** The peer's IP address as seen by the listener ("0.0.0.0" when unknown). */
  remoteIp: string;
}

export type Handler = (
  ctx: ControllerContext,
  req: Request,
  params: Params,
  info: RequestInfo,
) => Promise<Response> | Response;

/**
 * Who may call a route, checked by `app.ts` before the handler runs: "api" the API keys (and
 * forward auth), "socket" the cluster secret, "public" anyone, "metrics" the API key unless the
 * controller runs with `--metrics-public`.
 */
export type RouteAuth = "api" | "socket" | "public" | "metrics";

/**
 * One line of the controller's route table. Every field is required, so a route cannot be
 * registered without saying who may call it, how its errors look and which CORS it answers.
 */
export interface RouteEntry {
  readonly method: string;
  readonly pattern: string;
  readonly auth: RouteAuth;
  readonly errors: ErrorFormat;
  readonly cors: CorsPolicy;
  readonly run: Handler;
}

export interface Route<H> {
  method: string;
  pattern: string;
  handler: H;
}

interface Compiled<H> {
  method: string;
  segments: string[];
  handler: H;
}

export type Match<H> =
  | { kind: "found"; handler: H; params: Params }
  | { kind: "method_not_allowed"; allowed: string[]; handlers: H[] }
  | { kind: "not_found" };

export class Router<H> {
  #routes: Compiled<H>[];

  constructor(routes: readonly Route<H>[]) {
    this.#routes = routes.map((r) => ({
      method: r.method,
      segments: r.pattern.split("/").slice(1),
      handler: r.handler,
    }));
  }

  match(method: string, pathname: string): Match<H> {
    const parts = pathname.split("/").slice(1);
    const allowed: string[] = [];
    const handlers: H[] = [];
    for (const route of this.#routes) {
      const params = matchSegments(route.segments, parts);
      if (!params) continue;
      if (route.method === method || (method === "HEAD" && route.method === "GET")) {
        return { kind: "found", handler: route.handler, params };
      }
      allowed.push(route.method);
      handlers.push(route.handler);
    }
    return allowed.length > 0
      ? { kind: "method_not_allowed", allowed, handlers }
      : { kind: "not_found" };
  }
}

function matchSegments(pattern: string[], parts: string[]): Record<string, string> | null {
  if (pattern.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const part = parts[i]!;
    if (p.startsWith(":")) {
      if (part === "") return null;
      let value: string;
      try {
        value = decodeURIComponent(part);
      } catch {
        throw new HttpError(400, "InvalidRequest", `Invalid path: malformed escape in "${part}"`);
      }
      // deno-lint-ignore no-control-regex
      if (/[\u0000-\u001f\u007f]/.test(value)) {
        throw new HttpError(
          400,
          "InvalidRequest",
          `Invalid path: ${p.slice(1)} "${part}" must not contain control characters`,
        );
      }
      params[p.slice(1)] = value;
    } else if (p !== part) {
      return null;
    }
  }
  return params;
}
