/**
 * Which clients an under-configured controller must refuse (decisions.md §3.1; issue 10).
 * A cluster secret guards only the drone and proxy sockets: a controller with a secret but no
 * API key or forward auth still serves its control API (`/ctrl/*`, the Jamsocket routes) to
 * anyone, so it counts as open for everything but those sockets and `/pub/*`.
 */
import type { ControllerConfig } from "./config.ts";
import { isLoopbackHost, isOpen } from "./config.ts";

/** True when the control API (every route but sockets and `/pub/*`) takes requests without a credential. */
export function isApiOpen(config: ControllerConfig): boolean {
  return config.apiKeys.length === 0 && config.forwardAuth === undefined;
}

const SOCKET_PATH = /^\/ctrl\/c\/[^/]+\/(drone|proxy)-socket$/;

/** Paths a non-loopback client may reach on a controller whose control API is open. */
function isPublicOrSocket(pathname: string): boolean {
  return pathname === "/pub" || pathname.startsWith("/pub/") || SOCKET_PATH.test(pathname);
}

/**
 * Under `deno serve`/Deploy the platform picks the address, so the bind-time check of the CLI
 * cannot run: instead a non-loopback peer is refused wherever no credential would be asked
 * (`peer` null = unknown, treated as remote). Null when the request may proceed, else the
 * message of a 401 that names the fix.
 */
export function openAccessRefusal(
  config: ControllerConfig,
  peer: string | null,
  pathname: string,
): string | null {
  if (config.allowInsecure) return null;
  if (peer !== null && isLoopbackHost(peer)) return null;
  if (isOpen(config)) {
    return "Refusing a non-loopback client: no credentials are configured " +
      "(set PLANE_API_KEYS, and PLANE_CLUSTER_SECRET for drones and proxies)";
  }
  if (isApiOpen(config) && !isPublicOrSocket(pathname)) {
    return "Refusing a non-loopback client: the control API has no credential; " +
      "PLANE_CLUSTER_SECRET guards only drone and proxy sockets (set PLANE_API_KEYS or " +
      "PLANE_FORWARD_AUTH, or PLANE_ALLOW_INSECURE=true)";
  }
  return null;
}

/**
 * The CLI's bind-time check: a non-loopback `--host` needs the control API authenticated.
 * Null when the configuration may bind, else the usage error naming the fix.
 */
export function bindRefusal(config: ControllerConfig): string | null {
  if (config.allowInsecure || isLoopbackHost(config.host) || !isApiOpen(config)) return null;
  if (config.clusterSecret !== undefined) {
    return `Refusing to bind ${config.host} with an unauthenticated control API: ` +
      "--cluster-secret guards only drone and proxy sockets; pass --api-key (or " +
      "--forward-auth), bind a loopback --host, or add --allow-insecure";
  }
  return `Refusing to bind ${config.host} without authentication: pass --api-key and ` +
    "--cluster-secret (or --forward-auth), bind a loopback --host, or add --allow-insecure";
}
