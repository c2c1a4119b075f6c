/**
 * The CORS policies a route entry declares (`app.ts`): none for `/ctrl/*`, Plane's for `/pub/*`
 * and Jamsocket's for its routes. `withCors` adds the policy's headers to an answer, errors
 * included; `preflight` is the 204 answering an `OPTIONS` request.
 */

export type CorsPolicy = "none" | "plane" | "jamsocket";

const HEADERS: Record<Exclude<CorsPolicy, "none">, Record<string, string>> = {
  /** plane-0.5.md §2.9: any origin, GET and POST, `Content-Type`. */
  plane: {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "GET, POST",
    "access-control-allow-headers": "Content-Type",
  },
  /**
   * jamsocket-api.md §2.4: any origin; preflights (which the dev server answers for every path)
   * allow auth.
   */
  jamsocket: {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "GET, POST, OPTIONS",
    "access-control-allow-headers": "Authorization, Content-Type",
  },
};

export function withCors(response: Response, policy: CorsPolicy): Response {
  if (policy === "none") return response;
  try {
    for (const [name, value] of Object.entries(HEADERS[policy])) response.headers.set(name, value);
  } catch {
    // Immutable headers (a WebSocket upgrade response): nothing to add.
  }
  return response;
}

export function preflight(policy: Exclude<CorsPolicy, "none">): Response {
  return withCors(new Response(null, { status: 204 }), policy);
}
