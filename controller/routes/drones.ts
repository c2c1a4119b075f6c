// Stub: to be implemented.
import type { ControllerContext } from "../context.ts";
import { HttpError } from "../http_error.ts";
import type { Params } from "../router.ts";
import type { RequestInfo } from "../app.ts";

export function handleClusterState(
  _ctx: ControllerContext,
  _req: Request,
  _params: Params,
  _info: RequestInfo,
): Promise<Response> {
  throw new HttpError(501, "Other", "Not implemented");
}

export function handleDrain(
  _ctx: ControllerContext,
  _req: Request,
  _params: Params,
  _info: RequestInfo,
): Promise<Response> {
  throw new HttpError(501, "Other", "Not implemented");
}

export function handleUndrain(
  _ctx: ControllerContext,
  _req: Request,
  _params: Params,
  _info: RequestInfo,
): Promise<Response> {
  throw new HttpError(501, "Other", "Not implemented");
}
