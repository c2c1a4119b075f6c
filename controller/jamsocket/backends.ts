/**
 * The Jamsocket backend routes (jamsocket-api.md §3.2–3.7, §4.2–4.3): status and status
 * stream (public, v1 and v2 shapes), terminate, backend info, an account's running backends,
 * and the logs stream.
 */
import type { ControllerContext } from "../context.ts";
import { HttpError, jsonResponse, readJsonBody } from "../http_error.ts";
import type { Params } from "../router.ts";
import { backendStateHistory, currentBackendState, queueTerminate } from "../db/mod.ts";
import { openStatusStream } from "../status_stream.ts";
import { handleBackendLogs } from "../routes/logs.ts";
import {
  type JamsocketBackendInfo,
  type JamsocketRunningBackends,
  JamsocketTerminateRequest,
  nameError,
} from "../../shared/mod.ts";
import {
  formatV2Event,
  isoTime,
  toJamsocketState,
  toJamsocketV2State,
  toV1Message,
  v1EventFormatter,
} from "./status.ts";
import { listAccountBackends, spawnedBackend } from "./store.ts";
import { parseNamespace, SERVICE_NAME } from "./service_map.ts";

/** The most backends `GET /v2/account/{account}/backends` lists. */
export const MAX_RUNNING_BACKENDS = 1000;

function backendNotFound(backend: string): HttpError {
  return new HttpError(404, "BackendNotFound", `Backend "${backend}" does not exist`);
}

/** Rethrows Plane's 404 for an unknown backend as Jamsocket's `BackendNotFound`. */
function notFoundAs(backend: string) {
  return (err: unknown): never => {
    throw err instanceof HttpError && err.status === 404 ? backendNotFound(backend) : err;
  };
}

/** The backend id of the path; a malformed one names no backend and never reaches SQL. */
export function backendParam(params: Params): string {
  const backend = params.backend ?? "";
  if (nameError(backend, "") !== null) throw backendNotFound(backend);
  return backend;
}

async function current(ctx: ControllerContext, backend: string) {
  const state = await currentBackendState(ctx.db, backend);
  if (!state) throw backendNotFound(backend);
  return state;
}

/** `GET /v2/backend/{id}/status` (jamsocket-api.md §3.2). */
export async function handleV2Status(ctx: ControllerContext, _req: Request, params: Params) {
  const backend = backendParam(params);
  const { state, time } = await current(ctx, backend);
  return jsonResponse(toJamsocketState(state, time));
}

/** `GET [/v1]/backend/{id}/status` (jamsocket-api.md §4.2). */
export async function handleV1Status(ctx: ControllerContext, _req: Request, params: Params) {
  const backend = backendParam(params);
  const { state, time } = await current(ctx, backend);
  return jsonResponse(toV1Message(backend, state, time));
}

function sse(body: ReadableStream<Uint8Array>): Response {
  return new Response(body, {
    headers: {
      "content-type": "text/event-stream",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
    },
  });
}

/**
 * `GET /v2/backend/{id}/status/stream` (jamsocket-api.md §3.3): history, then live states, one
 * `data:` line per chunk and nothing else (no `id:`, no keep-alive comments); ends after
 * `terminated`.
 */
export function handleV2StatusStream(
  ctx: ControllerContext,
  _req: Request,
  params: Params,
) {
  return statusStream(ctx, backendParam(params), formatV2Event);
}

/** The status stream in a Jamsocket format: no `id:` lines, no keep-alive comments. */
async function statusStream(
  ctx: ControllerContext,
  backend: string,
  format: NonNullable<Parameters<typeof openStatusStream>[2]["format"]>,
) {
  const stream = await openStatusStream(ctx, backend, {
    lastEventId: null,
    format,
    keepAlive: false,
  }).catch(notFoundAs(backend));
  return sse(stream);
}

/**
 * `GET [/v1]/backend/{id}/status/stream` (jamsocket-api.md §4.2): v1 messages, consecutive repeats
 * dropped.
 */
export function handleV1StatusStream(
  ctx: ControllerContext,
  _req: Request,
  params: Params,
) {
  const backend = backendParam(params);
  return statusStream(ctx, backend, v1EventFormatter(backend));
}

/**
 * Terminate (jamsocket-api.md §3.4, §4.3): `{"status":"ok"}` once queued (or already pending); a
 * terminated backend is 409 `BackendNotRunning`, which the CLI reports as a warning.
 */
export async function terminate(
  ctx: ControllerContext,
  backend: string,
  hard: boolean,
): Promise<Response> {
  const kind = hard ? "hard" : "soft";
  const result = await queueTerminate(ctx.db, backend, { kind, reason: "external" });
  switch (result.kind) {
    case "not_found":
      throw backendNotFound(backend);
    case "terminated":
      throw new HttpError(
        409,
        "BackendNotRunning",
        `Cannot terminate backend "${backend}": it is already terminated`,
      );
    default:
      ctx.log.info("Terminate requested", { backendId: backend, kind, outcome: result.kind });
      return jsonResponse({ status: "ok" });
  }
}

/** `POST /v2/backend/{id}/terminate` with `{"hard": bool}` (absent: soft). */
export async function handleV2Terminate(ctx: ControllerContext, req: Request, params: Params) {
  const backend = backendParam(params);
  const body = await readJsonBody(req, JamsocketTerminateRequest, {
    maxBytes: ctx.config.maxBodyBytes,
    lenient: true,
  });
  return await terminate(ctx, backend, body.hard === true);
}

/** `POST [/v1]/backend/{id}/terminate`: always hard, body ignored (the dev server's rule). */
export async function handleV1Terminate(ctx: ControllerContext, req: Request, params: Params) {
  const backend = backendParam(params);
  await req.body?.cancel();
  return await terminate(ctx, backend, true);
}

/**
 * `GET /v2/backend/{id}` (jamsocket-api.md §3.5): works for any backend; Plane-only ones have empty
 * names.
 */
export async function handleV2BackendInfo(ctx: ControllerContext, _req: Request, params: Params) {
  const backend = backendParam(params);
  const row = await spawnedBackend(ctx.db, backend);
  if (!row) throw backendNotFound(backend);
  const history = await backendStateHistory(ctx.db, backend);
  const names = row.key ? parseNamespace(row.key.namespace) : null;
  const info: JamsocketBackendInfo = {
    id: row.id,
    "created_at": isoTime(row.createdAt),
    "service_name": names?.service ?? "",
    "cluster_name": row.cluster,
    "account_name": names?.account ?? "",
    statuses: history.map((item) => toJamsocketV2State(item.state, item.time)),
    "image_digest": row.key?.tag ?? "",
  };
  if (row.key) info.key = row.key.name;
  if (names?.environment) info.environment_name = names.environment;
  return jsonResponse(info);
}

/**
 * `GET /v2/account/{account}/backends` (jamsocket-api.md §3.6): the account's non-terminated
 * backends.
 */
export async function handleV2AccountBackends(
  ctx: ControllerContext,
  _req: Request,
  params: Params,
) {
  const account = params.account ?? "";
  const rows = SERVICE_NAME.test(account)
    ? await listAccountBackends(ctx.db, account, MAX_RUNNING_BACKENDS)
    : [];
  const body: JamsocketRunningBackends = {
    "running_backends": rows.map((row) => {
      const names = parseNamespace(row.namespace);
      return {
        id: row.id,
        "created_at": isoTime(row.createdAt),
        "service_name": names?.service ?? "",
        "cluster_name": row.cluster,
        "account_name": account,
        status: toJamsocketV2State(row.state, row.statusTime),
        key: row.keyName,
      };
    }),
  };
  return jsonResponse(body);
}

/**
 * `GET /v2/backend/{id}/logs/stream` (jamsocket-api.md §3.7): the controller's log stream with each
 * `data:` payload the raw line instead of `{stream, text, time}`; comments are dropped.
 */
export async function handleV2LogsStream(
  ctx: ControllerContext,
  req: Request,
  params: Params,
) {
  const backend = backendParam(params);
  const upstream = await handleBackendLogs(ctx, req, { backend }).catch(notFoundAs(backend));
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let buffer = "";
  const rewrite = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block.split("\n").find((line) => line.startsWith("data:"));
        if (data === undefined) continue;
        let text: string;
        try {
          text = String((JSON.parse(data.slice(5)) as { text?: unknown }).text ?? "");
        } catch {
          continue;
        }
        // One SSE data line per log line: a line with breaks becomes several data lines.
        const lines = text.split(/\r?\n/).map((l) => `data:${l}`).join("\n");
        controller.enqueue(encoder.encode(`${lines}\n\n`));
      }
    },
  });
  return sse(upstream.body!.pipeThrough(rewrite));
}
