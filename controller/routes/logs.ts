/**
 * `GET /ctrl/b/{backend}/logs` (decisions.md §3.4): the backend's stdout/stderr as
 * Server-Sent Events — first the drone's bounded tail, then live lines until the backend is
 * terminated (`?follow=false`: the tail only). Each event is
 * `data: {"stream": "stdout"|"stderr", "text": …, "time": <epoch ms>}`.
 */
import type { ControllerContext } from "../context.ts";
import { HttpError } from "../http_error.ts";
import type { Params } from "../router.ts";
import { type LogLinesMessage, nameError, randomSuffix } from "../../shared/mod.ts";

/** How long a follow lasts on the drone before this stream renews it. */
const LEASE_MS = 30_000;
const RENEW_MS = 10_000;
/** The drone's tail must arrive within this time, or the stream says so and ends. */
const TAIL_TIMEOUT_MS = 10_000;
/** Lines still in flight when the backend is terminated get this long to arrive. */
const DRAIN_MS = 500;

export async function handleBackendLogs(
  ctx: ControllerContext,
  req: Request,
  params: Params,
): Promise<Response> {
  const id = params.backend!;
  const notFound = new HttpError(404, "NotFound", `Backend ${JSON.stringify(id)} does not exist`);
  if (nameError(id, "") !== null) throw notFound;
  const follow = new URL(req.url).searchParams.get("follow") !== "false";
  const { rows } = await ctx.db.query<{ drone_id: number; last_status: string }>(
    "select drone_id, last_status from backend where id = $1",
    [id],
  );
  const backend = rows[0];
  if (!backend) throw notFound;
  const live = follow && backend.last_status !== "terminated";
  const request = randomSuffix();
  const encoder = new TextEncoder();
  let sink: ReadableStreamDefaultController<Uint8Array> | null = null;
  let tailDone = false;
  let finished = false;
  const timers: ReturnType<typeof setTimeout>[] = [];
  const cleanups: (() => void)[] = [];

  function write(text: string) {
    if (finished || !sink) return;
    try {
      sink.enqueue(encoder.encode(text));
    } catch {
      finish();
    }
  }
  function finish() {
    if (finished) return;
    finished = true;
    for (const timer of timers) clearTimeout(timer);
    for (const cleanup of cleanups) cleanup();
    try {
      sink?.close();
    } catch {
      // The client already went away.
    }
  }
  function onLines(message: LogLinesMessage) {
    const isTail = message.request === request;
    // Live lines before our tail would arrive out of order: wait for the tail first.
    if (!isTail && (message.request !== null || !tailDone || !live)) return;
    for (const line of message.lines) write(`data: ${JSON.stringify(line)}\n\n`);
    if (isTail && !message.more) {
      tailDone = true;
      if (!live) finish();
    }
  }

  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      sink = controller;
    },
    cancel() {
      finish();
    },
  });
  cleanups.push(await ctx.logs.subscribe(id, onLines));
  if (live) {
    cleanups.push(ctx.bus.subscribe("backend_state", id, (event) => {
      const state = (event.data as { state?: { status?: string } }).state;
      if (state?.status === "terminated") timers.push(setTimeout(finish, DRAIN_MS));
    }));
    const renew = setInterval(() => {
      void ctx.logs.requestFollow({
        "drone_id": backend.drone_id,
        "backend_id": id,
        request,
        "lease_ms": LEASE_MS,
        tail: false,
      }).catch(() => {});
    }, RENEW_MS);
    cleanups.push(() => clearInterval(renew));
  }
  // A client going away cancels the stream (`cancel` above); the controller closing ends it.
  ctx.signal.addEventListener("abort", finish, { once: true });
  cleanups.push(() => ctx.signal.removeEventListener("abort", finish));
  timers.push(setTimeout(() => {
    if (tailDone) return;
    write(": the backend's drone did not answer; it may be offline\n\n");
    finish();
  }, TAIL_TIMEOUT_MS));
  await ctx.logs.requestFollow({
    "drone_id": backend.drone_id,
    "backend_id": id,
    request,
    "lease_ms": LEASE_MS,
    tail: true,
  });
  return new Response(stream, {
    headers: {
      "content-type": "text/event-stream",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
    },
  });
}
