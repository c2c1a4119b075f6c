/** `POST /ctrl/connect` (plane-0.5.md §2.2): parse the body, run `connect`, answer. */
import type { ControllerContext } from "../context.ts";
import { HttpError, jsonResponse, readJsonBody } from "../http_error.ts";
import type { Params, RequestInfo } from "../router.ts";
import { ConnectRequest } from "../../shared/mod.ts";
import { connect } from "../connect_algorithm.ts";
import { createConnectStore } from "../db/mod.ts";
import { executableProblem } from "../executable_check.ts";

export async function handleConnect(
  ctx: ControllerContext,
  req: Request,
  params: Params,
  info: RequestInfo,
): Promise<Response> {
  const startedAt = performance.now();
  const counted: { outcome: string } = { outcome: "error" };
  try {
    return await answerConnect(ctx, req, params, info, counted);
  } catch (err) {
    // A refused body or spawn config (400, 413, …) before any connect was attempted.
    if (counted.outcome === "error" && err instanceof HttpError && err.status < 500) {
      counted.outcome = "invalid";
    }
    throw err;
  } finally {
    ctx.prometheus.connect(counted.outcome, (performance.now() - startedAt) / 1000);
  }
}

async function answerConnect(
  ctx: ControllerContext,
  req: Request,
  _params: Params,
  _info: RequestInfo,
  counted: { outcome: string },
): Promise<Response> {
  const request = await readJsonBody(req, ConnectRequest, { maxBytes: ctx.config.maxBodyBytes });
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
    counted.outcome = kind;
    throw new HttpError(status, kind, message);
  }
  counted.outcome = result.response.spawned ? "spawned" : "existing";
  return jsonResponse(result.response);
}
