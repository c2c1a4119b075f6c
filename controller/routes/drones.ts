/**
 * Drone administration: `GET /ctrl/c/{cluster}/state` (plane-0.5.md §2.6),
 * `POST /ctrl/c/{cluster}/d/{drone}/drain` (plane-0.5.md §2.5) and its inverse `…/undrain`
 * (decisions.md §2.5).
 */
import type { ControllerContext } from "../context.ts";
import { HttpError, jsonResponse } from "../http_error.ts";
import type { Params } from "../router.ts";
import { clusterNameError, type DrainResult, nameError } from "../../shared/mod.ts";
import { clusterState, setDraining } from "../db/mod.ts";

/** The `{cluster}` path parameter, validated (400 `InvalidClusterName`). */
export function clusterParam(params: Params): string {
  const cluster = params.cluster ?? "";
  const error = clusterNameError(cluster);
  if (error !== null) {
    throw new HttpError(400, "InvalidClusterName", `Invalid cluster name "${cluster}": ${error}`);
  }
  return cluster;
}

export async function handleClusterState(
  ctx: ControllerContext,
  _req: Request,
  params: Params,
): Promise<Response> {
  return jsonResponse(await clusterState(ctx.db, clusterParam(params)));
}

async function setDrainingRoute(ctx: ControllerContext, params: Params, draining: boolean) {
  const cluster = clusterParam(params);
  const name = params.drone ?? "";
  // A malformed name names no drone (and must not reach SQL: a NUL byte is a database error).
  const updated = nameError(name, "dr-") === null
    ? await setDraining(ctx.db, { cluster, name, draining })
    : null;
  if (updated === null) {
    throw new HttpError(
      404,
      "NotFound",
      `Drone ${JSON.stringify(name)} does not exist in cluster ${JSON.stringify(cluster)}`,
    );
  }
  if (updated) {
    ctx.log.info(draining ? "Drone draining" : "Drone undrained", { cluster, drone: name });
  }
  const result: DrainResult = { updated };
  return jsonResponse(result);
}

/** Excludes the drone from scheduling; running backends are untouched (plane-0.5.md §2.5). */
export function handleDrain(ctx: ControllerContext, _req: Request, params: Params) {
  return setDrainingRoute(ctx, params, true);
}

/** Makes a drained drone schedulable again (decisions.md §2.5; Plane has no undrain). */
export function handleUndrain(ctx: ControllerContext, _req: Request, params: Params) {
  return setDrainingRoute(ctx, params, false);
}
