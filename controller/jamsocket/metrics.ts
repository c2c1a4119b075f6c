/**
 * `GET /v2/backend/{id}/metrics/stream` (jamsocket-api.md §3.7): the drone's resource samples
 * (plane-0.5.md §3.8; every 10 s) as Server-Sent Events, one `data:` line each with
 * `{cluster, backend_id, mem_used, mem_available, cpu_used, sys_cpu}`; the CLI shows
 * `cpu_used / sys_cpu` as a percentage. Samples are not stored: they reach every controller
 * through `NOTIFY plane_backend_metrics` (`db/metrics.ts`), which one LISTEN per controller
 * database, opened while someone watches, fans out here. The stream ends when the backend
 * terminates.
 */
import type { ControllerContext } from "../context.ts";
import { currentBackendState, type Database, METRICS_CHANNEL } from "../db/mod.ts";
import type { Params } from "../router.ts";
import { HttpError } from "../http_error.ts";
import { BackendMetricsMessage, type JamsocketMetrics, type Logger } from "../../shared/mod.ts";
import { spawnedBackend } from "./store.ts";
import { backendParam } from "./backends.ts";

/**
 * One drone sample in Jamsocket's shape. `mem_available` is the backend's memory limit, or
 * (unlimited) what the drone reports as its total; a sample with no CPU interval behind it
 * yet (`sys_cpu` 0, the first after a start) is 0 of 1, so the CLI shows 0% rather than NaN.
 */
export function toJamsocketMetrics(
  sample: BackendMetricsMessage,
  cluster: string,
): JamsocketMetrics {
  const measured = sample.sys_cpu > 0;
  return {
    cluster,
    "backend_id": sample.backend_id,
    "mem_used": sample.mem_used,
    "mem_available": sample.mem_limit > 0
      ? sample.mem_limit
      : Math.max(sample.mem_total, sample.mem_used),
    "cpu_used": measured ? sample.cpu_used : 0,
    "sys_cpu": measured ? sample.sys_cpu : 1,
  };
}

type Listener = (sample: BackendMetricsMessage) => void;

/**
 * Per-backend subscribers of the metrics channel; listens only while there are any. One per
 * controller, built by `createController` and reached through `ctx.metrics`.
 */
export class MetricsHub {
  #db: Database;
  #log: Logger;
  #listeners = new Map<string, Set<Listener>>();
  /** Listeners of every backend's samples (the dashboard's usage tracker). */
  #all = new Set<Listener>();
  #listening: Promise<(() => Promise<void>) | null> | null = null;

  constructor(db: Database, log: Logger) {
    this.#db = db;
    this.#log = log;
  }

  /** Resolves once LISTEN is in place; returns the unsubscribe function. */
  async subscribe(backend: string, listener: Listener): Promise<() => void> {
    let set = this.#listeners.get(backend);
    if (!set) this.#listeners.set(backend, set = new Set());
    set.add(listener);
    await this.#listen();
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#listeners.get(backend) === set) this.#listeners.delete(backend);
      this.#stopIfIdle();
    };
  }

  /** Like `subscribe`, for the samples of every backend. */
  async subscribeAll(listener: Listener): Promise<() => void> {
    this.#all.add(listener);
    await this.#listen();
    return () => {
      this.#all.delete(listener);
      this.#stopIfIdle();
    };
  }

  async #listen() {
    this.#listening ??= this.#db.listen(METRICS_CHANNEL, {
      onNotify: (payload) => this.#dispatch(payload),
      onConnect() {},
    }).catch((err) => {
      this.#log.error("Cannot listen for backend metrics", { err });
      return null;
    });
    await this.#listening;
  }

  #stopIfIdle() {
    if (this.#listeners.size === 0 && this.#all.size === 0 && this.#listening) {
      const listening = this.#listening;
      this.#listening = null;
      void listening.then((stop) => stop?.()).catch(() => {});
    }
  }

  #dispatch(payload: string) {
    let sample: BackendMetricsMessage;
    try {
      const parsed = BackendMetricsMessage.safeParse(JSON.parse(payload).payload);
      if (!parsed.success) return;
      sample = parsed.data;
    } catch {
      return;
    }
    for (const listener of this.#listeners.get(sample.backend_id) ?? []) listener(sample);
    for (const listener of this.#all) listener(sample);
  }
}

/** `GET /v2/backend/{id}/metrics/stream`: 404 unknown, 409 `BackendNotRunning` terminated. */
export async function handleV2MetricsStream(
  ctx: ControllerContext,
  _req: Request,
  params: Params,
): Promise<Response> {
  const backend = backendParam(params);
  const row = await spawnedBackend(ctx.db, backend);
  const current = row ? await currentBackendState(ctx.db, backend) : null;
  if (!row || !current) {
    throw new HttpError(404, "BackendNotFound", `Backend "${backend}" does not exist`);
  }
  if (current.state.status === "terminated") {
    throw new HttpError(
      409,
      "BackendNotRunning",
      `Cannot stream metrics of backend "${backend}": it is terminated`,
    );
  }
  const encoder = new TextEncoder();
  const cleanups: (() => void)[] = [];
  let closed = false;
  const close = (sink: ReadableStreamDefaultController<Uint8Array>) => {
    if (closed) return;
    closed = true;
    for (const cleanup of cleanups) cleanup();
    try {
      sink.close();
    } catch {
      // Already cancelled by the client.
    }
  };
  let sink: ReadableStreamDefaultController<Uint8Array> | null = null;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      sink = controller;
      // Ends with the backend and with the controller; a client going away cancels it.
      cleanups.push(ctx.bus.subscribe("backend_state", backend, (event) => {
        const state = (event.data as { state?: { status?: unknown } } | null)?.state;
        if (state?.status === "terminated") close(controller);
      }));
      const onAbort = () => close(controller);
      ctx.signal.addEventListener("abort", onAbort);
      cleanups.push(() => ctx.signal.removeEventListener("abort", onAbort));
    },
    cancel() {
      if (closed) return;
      closed = true;
      for (const cleanup of cleanups) cleanup();
    },
  });
  // Listening before the answer goes out: no sample sent after it is missed.
  const unsubscribe = await ctx.metrics.subscribe(backend, (sample) => {
    if (closed || !sink) return;
    sink.enqueue(
      encoder.encode(`data:${JSON.stringify(toJamsocketMetrics(sample, row.cluster))}\n\n`),
    );
  });
  if (closed) unsubscribe();
  else cleanups.push(unsubscribe);
  return new Response(body, {
    headers: {
      "content-type": "text/event-stream",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
    },
  });
}
