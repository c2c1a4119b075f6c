/**
 * A small path router: patterns like `/ctrl/c/:cluster/state`, matched segment by segment.
 * Parameters are percent-decoded; a malformed escape, or a control character such as `%00`
 * (which Postgres cannot store or compare, issue 10), is a 400 naming the parameter.
 */
import { HttpError } from "./http_error.ts";

export type Params = Readonly<Record<string, string>>;

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
  | { kind: "method_not_allowed"; allowed: string[] }
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
    for (const route of this.#routes) {
      const params = matchSegments(route.segments, parts);
      if (!params) continue;
      if (route.method === method || (method === "HEAD" && route.method === "GET")) {
        return { kind: "found", handler: route.handler, params };
      }
      allowed.push(route.method);
    }
    return allowed.length > 0 ? { kind: "method_not_allowed", allowed } : { kind: "not_found" };
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
