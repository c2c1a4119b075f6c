/**
 * Authentication of `/ctrl/*` (decisions.md §3.1 and plane-0.5.md §2.10):
 * `Authorization: Bearer <key>` against the configured API keys (constant-time), drone and
 * proxy sockets against the cluster secret only, and an optional forward-auth URL is asked
 * about every request. With nothing configured everything is accepted (the controller then
 * binds loopback only).
 *
 * Sockets do not take API keys (issue 10, finding 3): a key handed to an app server must not
 * let it pose as a drone, which receives every Spawn's `executable.env` and reports where
 * backends listen. A controller with API keys but no cluster secret therefore refuses every
 * socket, with a message saying to configure one.
 */
import type { ControllerConfig } from "./config.ts";
import { HttpError } from "./http_error.ts";
import { constantTimeEqual } from "../shared/mod.ts";

export type AuthScope = "api" | "socket";

export function bearerOf(req: Request): string | null {
  const header = req.headers.get("authorization");
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

function matchesAny(candidate: string, secrets: readonly string[]): boolean {
  // Compare against every secret so the time taken does not reveal which one matched.
  let ok = false;
  for (const secret of secrets) ok = constantTimeEqual(candidate, secret) || ok;
  return ok;
}

/** Throws a 401 `HttpError` unless the request carries a credential valid for `scope`. */
export function checkBearer(config: ControllerConfig, req: Request, scope: AuthScope): void {
  if (scope === "socket" && config.clusterSecret === undefined && config.apiKeys.length > 0) {
    throw new HttpError(
      401,
      "Unauthorized",
      "Refused a drone or proxy socket: API keys are not accepted on sockets; start the " +
        "controller with --cluster-secret (PLANE_CLUSTER_SECRET) and give drones and proxies " +
        "the same secret",
    );
  }
  const secrets = scope === "socket"
    ? (config.clusterSecret === undefined ? [] : [config.clusterSecret])
    : config.apiKeys;
  if (secrets.length === 0) return;
  const bearer = bearerOf(req);
  if (bearer === null) {
    throw new HttpError(
      401,
      "Unauthorized",
      "Missing credentials: send Authorization: Bearer <key>",
    );
  }
  if (!matchesAny(bearer, secrets)) {
    throw new HttpError(401, "Unauthorized", "Invalid credentials: the bearer key is not accepted");
  }
}

/**
 * Plane's forward auth (plane-0.5.md §2.10): same method and headers, `x-original-path` without
 * `/ctrl`, empty body; 2xx allows, anything else is 401, a transport failure is 502.
 */
export async function checkForwardAuth(
  url: string,
  req: Request,
  signal?: AbortSignal,
): Promise<void> {
  const headers = new Headers(req.headers);
  headers.set("x-original-path", new URL(req.url).pathname.replace(/^\/ctrl/, ""));
  // A WebSocket upgrade's hop-by-hop headers must not be replayed to the auth server.
  for (const h of ["connection", "upgrade", "content-length", "transfer-encoding"]) {
    headers.delete(h);
  }
  let response: Response;
  try {
    response = await fetch(url, {
      method: req.method,
      headers,
      signal: signal
        ? AbortSignal.any([signal, AbortSignal.timeout(10_000)])
        : AbortSignal.timeout(10_000),
    });
    await response.body?.cancel();
  } catch (err) {
    throw new HttpError(502, "BadGateway", "Error forwarding auth", { cause: err });
  }
  if (response.status < 200 || response.status > 299) {
    throw new HttpError(
      401,
      "Unauthorized",
      `Unauthorized: forward auth answered ${response.status}`,
    );
  }
}
