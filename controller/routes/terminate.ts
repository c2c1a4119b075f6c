/** `POST /ctrl/b/{backend}/soft-terminate` and `…/hard-terminate` (plane-0.5.md §2.3). */
import type { ControllerContext } from "../context.ts";
import { HttpError, jsonResponse } from "../http_error.ts";
import type { Params } from "../router.ts";
import { nameError, type TerminationKind } from "../../shared/mod.ts";
import { queueTerminate } from "../db/mod.ts";

/**
 * Queues `Terminate {kind, reason: "external"}` for the backend's drone; the body is ignored.
 * A terminated backend, or one with the same kind of terminate still pending, gets nothing new
 * (decisions.md §2). Always 200 `null` for an existing backend.
 */
export async function handleTerminate(
  ctx: ControllerContext,
  _req: Request,
  params: Params,
  _info: unknown,
  kind: TerminationKind,
): Promise<Response> {
  const backendId = params.backend ?? "";
  // A malformed id names no backend (and must not reach SQL: a NUL byte is a database error).
  const result = nameError(backendId, "") === null
    ? await queueTerminate(ctx.db, backendId, { kind, reason: "external" })
    : { kind: "not_found" as const };
  if (result.kind === "not_found") {
    // Issue 12: name the backend, so a typo is visible in the one line the CLI prints.
    throw new HttpError(404, "NotFound", `Backend ${JSON.stringify(backendId)} does not exist`);
  }
  ctx.log.info("Terminate requested", { backendId, kind, outcome: result.kind });
  return jsonResponse(null);
}
