/**
 * `POST /ctrl/b/revoke` and `POST /ctrl/revoke` (plane-0.5.md §2.4; decisions.md §2.16 accepts
 * both paths): deletes a user's tokens for a backend. Unlike Plane, proxies of the backend's
 * cluster are told to drop them (`TokenRevoked`), through the event log so that proxies
 * connected to other controller instances hear it too.
 */
import type { ControllerContext } from "../context.ts";
import { HttpError, jsonResponse, readJsonBody } from "../http_error.ts";
import { RevokeRequest } from "../../shared/mod.ts";
import { revokeUserTokens } from "../db/mod.ts";

export async function handleRevoke(ctx: ControllerContext, req: Request): Promise<Response> {
  const body = await readJsonBody(req, RevokeRequest, { maxBytes: ctx.config.maxBodyBytes });
  let tokens: string[];
  try {
    tokens = await revokeUserTokens(ctx.db, body.backend_id, body.user);
  } catch (err) {
    throw new HttpError(500, "DatabaseError", "Failed to revoke token", { cause: err });
  }
  ctx.log.info("Revoked tokens", { backend: body.backend_id, count: tokens.length });
  // Plane's exact answer, whether or not any token matched.
  return jsonResponse("Token revoked successfully");
}
