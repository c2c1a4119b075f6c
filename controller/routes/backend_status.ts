/**
 * `GET /pub/b/{backend}/status` (plane-0.5.md §2.9), with our `?wait=ready&timeout=S`
 * (decisions.md §3.5), and `GET /pub/b/{backend}/status-stream` (SSE, see
 * `status_stream.ts`). Addresses are never exposed publicly.
 */
import type { ControllerContext } from "../context.ts";
import { HttpError, jsonResponse } from "../http_error.ts";
import type { Params } from "../router.ts";
import { currentBackendState, type TimedState } from "../db/mod.ts";
import { openStatusStream } from "../status_stream.ts";
import { BackendState, STATUS_RANK, toStatusEntry } from "../../shared/mod.ts";

/** Seconds waited when `wait=ready` names no timeout (still capped by `maxWaitSeconds`). */
export const DEFAULT_WAIT_SECONDS = 30;

/**
 * Parses `wait` and `timeout`: null when the caller does not want to wait, else the wait in
 * milliseconds, capped by `maxWaitSeconds`. Anything else is a 400.
 */
export function parseWaitQuery(query: URLSearchParams, maxWaitSeconds: number): number | null {
  const wait = query.get("wait");
  const timeout = query.get("timeout");
  if (wait === null) {
    if (timeout !== null) {
      throw new HttpError(400, "InvalidRequest", "timeout is only valid with wait=ready");
    }
    return null;
  }
  if (wait !== "ready") {
    throw new HttpError(400, "InvalidRequest", `Invalid wait "${wait}": the only value is "ready"`);
  }
  let seconds = DEFAULT_WAIT_SECONDS;
  if (timeout !== null) {
    if (!/^\d{1,9}$/.test(timeout)) {
      throw new HttpError(
        400,
        "InvalidRequest",
        `Invalid timeout "${timeout}": expected a whole number of seconds`,
      );
    }
    seconds = Number(timeout);
  }
  return Math.min(seconds, maxWaitSeconds) * 1000;
}

/** Ready or later: nothing better than this will come, so a waiter can answer (ext. 5). */
function isSettled(state: BackendState): boolean {
  return STATUS_RANK[state.status] >= STATUS_RANK.ready;
}

function notFound(backend: string): HttpError {
  return new HttpError(404, "NotFound", `Backend "${backend}" does not exist`);
}

/**
 * Answers once the backend is ready or past it (terminating, terminated), or with its current
 * status when `timeoutMs` passes, the client leaves or the controller closes.
 */
async function waitForSettled(
  ctx: ControllerContext,
  backend: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<TimedState> {
  // Written by the event handler; the cast keeps TypeScript from narrowing it to null.
  let settled = null as TimedState | null;
  let wake!: () => void;
  const woken = new Promise<void>((resolve) => (wake = resolve));
  // Subscribe before reading, so a change committed in between is not missed.
  const unsubscribe = ctx.bus.subscribe("backend_state", backend, (event) => {
    const parsed = BackendState.safeParse((event.data as { state?: unknown } | null)?.state);
    if (parsed.success && isSettled(parsed.data)) {
      settled ??= { state: parsed.data, time: event.time };
      wake();
    }
  });
  const timer = setTimeout(wake, timeoutMs);
  const signals = [signal, ctx.signal];
  for (const s of signals) s.addEventListener("abort", wake, { once: true });
  try {
    const current = await currentBackendState(ctx.db, backend);
    if (!current) throw notFound(backend);
    if (isSettled(current.state) || signals.some((s) => s.aborted)) return current;
    await woken;
    return settled ?? (await currentBackendState(ctx.db, backend)) ?? current;
  } finally {
    clearTimeout(timer);
    unsubscribe();
    for (const s of signals) s.removeEventListener("abort", wake);
  }
}

export async function handleBackendStatus(
  ctx: ControllerContext,
  req: Request,
  params: Params,
): Promise<Response> {
  const backend = params.backend ?? "";
  const waitMs = parseWaitQuery(new URL(req.url).searchParams, ctx.config.maxWaitSeconds);
  const current = waitMs === null
    ? await currentBackendState(ctx.db, backend)
    : await waitForSettled(ctx, backend, waitMs, req.signal);
  if (!current) throw notFound(backend);
  return jsonResponse(toStatusEntry(current.state, current.time));
}

export async function handleStatusStream(
  ctx: ControllerContext,
  req: Request,
  params: Params,
): Promise<Response> {
  const body = await openStatusStream(ctx, params.backend ?? "", {
    lastEventId: req.headers.get("last-event-id"),
    // A client going away cancels the stream itself; `req.signal` is not needed (and reading
    // it under Deno.serve's legacy abort semantics only adds warnings).
  });
  return new Response(body, {
    headers: { "content-type": "text/event-stream", "cache-control": "no-store" },
  });
}
