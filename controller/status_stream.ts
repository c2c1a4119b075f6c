/**
 * The public status stream (plane-0.5.md §2.9) as Server-Sent Events: subscribe to the
 * backend's `backend_state` events first, replay its history, then follow live events, emitting
 * only statuses strictly later than the last one sent (this dedupes the replay/live overlap and
 * honours `Last-Event-ID`). Unlike Plane, the stream ends after `terminated` and an unknown
 * backend is a 404 (decisions.md §2.7).
 */
import { z } from "zod";
import type { ControllerContext } from "./context.ts";
import { HttpError } from "./http_error.ts";
import { backendStateHistory, currentBackendState, type TimedState } from "./db/mod.ts";
import { BackendState, BackendStatus, statusRank, toStatusEntry } from "../shared/mod.ts";

const EventData = z.object({ state: BackendState });

/**
 * One SSE event: the entry as `data`, its status as `id` so clients can resume (plane-0.5.md §2.9).
 */
export function formatStatusEvent(item: TimedState): string {
  const entry = toStatusEntry(item.state, item.time);
  return `data: ${JSON.stringify(entry)}\nid: ${item.state.status}\n\n`;
}

/** The rank below which events are skipped for a `Last-Event-ID` header (0 when absent/unknown). */
export function resumeRank(lastEventId: string | null): number {
  const status = BackendStatus.safeParse(lastEventId?.trim());
  return status.success ? statusRank(status.data) : 0;
}

export interface StatusStreamOptions {
  lastEventId: string | null;
  /** The client's request signal: the stream stops when the client goes away. */
  signal?: AbortSignal;
  /**
   * Writes one event (one chunk), or null to skip it; `formatStatusEvent` by default. The
   * Jamsocket routes use their own shapes (jamsocket-api.md §3.3, §4.2).
   */
  format?: (item: TimedState) => string | null;
  /** Send `: keep-alive` comments every `sseKeepAliveMs` (default true). */
  keepAlive?: boolean;
}

/** Opens the stream; throws a 404 `HttpError` when the backend does not exist. */
export async function openStatusStream(
  ctx: ControllerContext,
  backendId: string,
  options: StatusStreamOptions,
): Promise<ReadableStream<Uint8Array>> {
  const encoder = new TextEncoder();
  const format = options.format ?? formatStatusEvent;
  let lastRank = resumeRank(options.lastEventId);
  /** Live events held back until the history has been replayed. */
  let held: TimedState[] | null = [];
  let sink: ReadableStreamDefaultController<Uint8Array> | null = null;
  let finished = false;
  let keepAlive: ReturnType<typeof setInterval> | undefined;

  const unsubscribe = ctx.bus.subscribe("backend_state", backendId, (event) => {
    const parsed = EventData.safeParse(event.data);
    if (!parsed.success) return;
    // Live entries carry the event's database time (the same transaction as the update).
    const item = { state: parsed.data.state, time: event.time };
    if (held) held.push(item);
    else emit(item);
  });
  const signals = [ctx.signal, options.signal].filter((s) => s !== undefined);

  function finish() {
    if (finished) return;
    finished = true;
    unsubscribe();
    clearInterval(keepAlive);
    for (const signal of signals) signal.removeEventListener("abort", end);
  }
  function end() {
    finish();
    try {
      sink?.close();
    } catch {
      // Already closed or cancelled by the client.
    }
  }
  function emit(item: TimedState) {
    if (finished || !sink) return;
    const rank = statusRank(item.state.status);
    if (rank > lastRank) {
      lastRank = rank;
      const text = format(item);
      if (text !== null) sink.enqueue(encoder.encode(text));
    }
    // Nothing follows `terminated`; end even when it was skipped by Last-Event-ID.
    if (item.state.status === "terminated") end();
  }

  let history: TimedState[];
  try {
    // Subscribed above, so nothing committed from here on can be missed (plane-0.5.md §2.9).
    if (!(await currentBackendState(ctx.db, backendId))) {
      throw new HttpError(404, "NotFound", `Backend "${backendId}" does not exist`);
    }
    history = await backendStateHistory(ctx.db, backendId);
  } catch (err) {
    finish();
    throw err;
  }

  return new ReadableStream<Uint8Array>({
    start(controller) {
      sink = controller;
      for (const signal of signals) {
        if (signal.aborted) return end();
        signal.addEventListener("abort", end, { once: true });
      }
      for (const item of history) emit(item);
      const pending = held ?? [];
      held = null;
      for (const item of pending) emit(item);
      if (finished || options.keepAlive === false) return;
      // A comment line keeps intermediaries from timing the connection out (plane-0.5.md §2.9).
      keepAlive = setInterval(() => {
        if (!finished) sink?.enqueue(encoder.encode(": keep-alive\n\n"));
      }, ctx.config.sseKeepAliveMs);
    },
    cancel() {
      finish();
    },
  });
}
