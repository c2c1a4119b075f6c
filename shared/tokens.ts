/**
 * Secrets: connection tokens, secret tokens and static tokens are 256 random bits in
 * URL-safe base64 without padding (43 characters), as Plane 0.5 mints them (plane-0.5.md §14.4,
 * §14.5).
 */

const STATIC_PREFIX = "s.";

export function base64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** 32 random bytes as 43 base64url characters. */
export function randomToken(): string {
  return base64Url(crypto.getRandomValues(new Uint8Array(32)));
}

/** A static token: `s.` + 43 base64url characters (plane-0.5.md §2.2 `use_static_token`). */
export function randomStaticToken(): string {
  return STATIC_PREFIX + randomToken();
}

export function isStaticToken(token: string): boolean {
  return token.startsWith(STATIC_PREFIX);
}

/**
 * Compares two secrets in time that depends only on their lengths' maximum, never on where
 * they first differ, so a caller cannot learn a secret byte by byte from response times.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  const length = Math.max(x.length, y.length);
  let diff = x.length ^ y.length;
  for (let i = 0; i < length; i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/**
 * Prefix of path-routed requests (`/_plane_backend=<BACKEND_ID>/…`, jamsocket-api.md §10.2): a
 * proxy with path routing on asks the controller for `_plane_backend=<id>` as if it were a
 * token, and the controller answers with that backend's route (no user, no secret).
 */
export const PATH_ROUTE_PREFIX = "_plane_backend=";

export function isPathRouteToken(token: string): boolean {
  return token.startsWith(PATH_ROUTE_PREFIX);
}
