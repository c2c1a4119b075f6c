/**
 * `GET /ctrl/status` (plane-0.5.md §2.7) and `GET /pub/health` (plane-0.5.md §2.9): both prove the
 * database answers.
 */
import type { ControllerContext } from "../context.ts";
import { HttpError, jsonResponse } from "../http_error.ts";
import { PLANE_HASH, PLANE_VERSION } from "../../shared/mod.ts";

async function pingDatabase(ctx: ControllerContext) {
  try {
    await ctx.db.query("select 1");
  } catch (err) {
    throw new HttpError(500, "DatabaseError", "Database health check failed", { cause: err });
  }
}

export async function handleStatus(ctx: ControllerContext): Promise<Response> {
  await pingDatabase(ctx);
  return jsonResponse({ status: "ok", version: PLANE_VERSION, hash: PLANE_HASH });
}

export async function handleHealth(ctx: ControllerContext): Promise<Response> {
  await pingDatabase(ctx);
  return jsonResponse({ status: "ok" });
}
