/** `POST /ctrl/connect` (behaviour doc §2.2): parse the body, run `connect`, answer. */
import type { ControllerContext } from "../context.ts";
import { HttpError, jsonResponse, readJsonBody } from "../http_error.ts";
import type { Params } from "../router.ts";
import type { RequestInfo } from "../app.ts";
import { ConnectRequest } from "../../shared/api.ts";
import { connect } from "../connect.ts";
import { createConnectStore } from "../db/connect.ts";
import { executableProblem } from "../executable_check.ts";

export async function handleConnect(
  ctx: ControllerContext,
  req: Request,
  _params: Params,
  _info: RequestInfo,
): Promise<Response> {
  const request = await readJsonBody(req, ConnectRequest, ctx.config.maxBodyBytes);
  const executable = request.spawn_config?.executable;
  if (executable) {
    // Issue 10, findings 4 and 8: refused before anything is written.
    const problem = executableProblem(executable, {
      allowedEnv: new Set(ctx.config.allowBackendEnv),
      keyName: request.key?.name ?? null,
    });
    if (problem) throw new HttpError(400, "InvalidRequest", problem.message);
  }
  const result = await connect(request, {
    store: createConnectStore(ctx.db),
    config: ctx.config,
    controllerUrl: ctx.controllerUrl,
    placements: ctx.placements,
  });
  if (!result.ok) {
    const { status, kind, message } = result.error;
    throw new HttpError(status, kind, message);
  }
  return jsonResponse(result.response);
}
