import assert from "node:assert/strict";
import { startTestController, type TestController } from "../testing/test_controller.ts";
import { seedBackend, seedDrone } from "../testing/seed.ts";
import { updateBackendState } from "../db/backend_state.ts";
import { emitEvent } from "../db/events.ts";
import type { BackendState } from "../../shared/backend_state.ts";

const CLUSTER = "plane.test";

async function seeded(t: TestController) {
  const drone = await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
  return await seedBackend(t.db, { droneId: drone.id, cluster: CLUSTER });
}

function terminated(exitCode: number | null): BackendState {
  return {
    status: "terminated",
    "last_status": "ready",
    termination: "hard",
    reason: "keyexpired",
    "exit_code": exitCode,
  };
}

interface SseEvent {
  data: Record<string, unknown>;
  id: string;
}

/** Reads a `text/event-stream` body event by event; comments are collected separately. */
class SseReader {
  #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";
  comments = 0;

  constructor(res: Response) {
    this.#reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** The next event, or null once the stream has ended. */
  async next(timeoutMs = 10_000): Promise<SseEvent | null> {
    for (;;) {
      const end = this.#buffer.indexOf("\n\n");
      if (end >= 0) {
        const block = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        if (block.startsWith(":")) {
          this.comments++;
          continue;
        }
        const fields = new Map<string, string>();
        for (const line of block.split("\n")) {
          const colon = line.indexOf(": ");
          fields.set(line.slice(0, colon), line.slice(colon + 2));
        }
        return { data: JSON.parse(fields.get("data")!), id: fields.get("id")! };
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("No SSE event in time")), timeoutMs);
      });
      try {
        const { done, value } = await Promise.race([this.#reader.read(), timeout]);
        if (done) return null;
        this.#buffer += value;
      } finally {
        clearTimeout(timer);
      }
    }
  }

  async cancel() {
    await this.#reader.cancel().catch(() => {});
  }

  [Symbol.asyncDispose]() {
    return this.cancel();
  }
}

async function openStream(t: TestController, backend: string, headers: HeadersInit = {}) {
  const res = await t.request(`/pub/b/${backend}/status-stream`, { headers });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  assert.equal(res.headers.get("cache-control"), "no-store");
  return new SseReader(res);
}

Deno.test("status stream replays history, follows live events, drops stale ones, ends after terminated", async () => {
  await using t = await startTestController();
  const backend = await seeded(t);
  await updateBackendState(t.db, backend, { status: "loading" });
  await using stream = await openStream(t, backend);
  const first = await stream.next();
  assert.equal(first?.id, "scheduled");
  assert.deepEqual(Object.keys(first!.data).sort(), ["status", "time"]);
  assert.equal(first!.data.status, "scheduled");
  assert.ok(Math.abs((first!.data.time as number) - Date.now()) < 60_000);
  assert.equal((await stream.next())?.id, "loading");

  await updateBackendState(t.db, backend, { status: "waiting", address: "127.0.0.1:9" });
  const waiting = await stream.next();
  assert.deepEqual(waiting?.data.status, "waiting");
  assert.equal(waiting?.data.address, undefined, "addresses are never public");
  // A stale event (an older status) must not appear.
  await emitEvent(t.db, "backend_state", backend, {
    "backend_id": backend,
    cluster: CLUSTER,
    state: { status: "loading" },
  });
  await updateBackendState(t.db, backend, { status: "ready", address: "127.0.0.1:9" });
  assert.equal((await stream.next())?.id, "ready");
  await updateBackendState(t.db, backend, terminated(null));
  const last = await stream.next();
  assert.deepEqual(last?.data, {
    status: "terminated",
    "termination_reason": "keyexpired",
    "termination_kind": "hard",
    time: last?.data.time,
  });
  assert.equal(await stream.next(), null, "the stream ends after terminated");
});

Deno.test("status stream skips statuses up to Last-Event-ID", async () => {
  await using t = await startTestController();
  const backend = await seeded(t);
  await updateBackendState(t.db, backend, { status: "loading" });
  await updateBackendState(t.db, backend, { status: "starting" });
  await using stream = await openStream(t, backend, { "last-event-id": "loading" });
  assert.equal((await stream.next())?.id, "starting");
  await updateBackendState(t.db, backend, { status: "ready", address: "127.0.0.1:9" });
  assert.equal((await stream.next())?.id, "ready");
});

Deno.test("status stream of a terminated backend replays its history and ends", async () => {
  await using t = await startTestController();
  const backend = await seeded(t);
  await updateBackendState(t.db, backend, terminated(3));
  await using stream = await openStream(t, backend);
  assert.equal((await stream.next())?.id, "scheduled");
  const end = await stream.next();
  assert.equal(end?.id, "terminated");
  assert.equal(end?.data.exit_error, true);
  assert.equal(await stream.next(), null);
  // Resuming after terminated yields nothing and ends at once.
  await using resumed = await openStream(t, backend, { "last-event-id": "terminated" });
  assert.equal(await resumed.next(), null);
});

Deno.test("status stream ends when the controller closes", async () => {
  await using t = await startTestController({ sseKeepAliveMs: 20 });
  const backend = await seeded(t);
  await using stream = await openStream(t, backend);
  assert.equal((await stream.next())?.id, "scheduled");
  const pending = stream.next();
  await t.close();
  assert.equal(await pending, null);
});

Deno.test("status stream keep-alive comments arrive between events", async () => {
  await using t = await startTestController({ sseKeepAliveMs: 20 });
  const backend = await seeded(t);
  const res = await t.request(`/pub/b/${backend}/status-stream`);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  try {
    while (!text.includes(": keep-alive\n\n")) {
      const { done, value } = await reader.read();
      if (done) break;
      text += value;
    }
  } finally {
    await reader.cancel();
  }
  assert.match(text, /^data: .*\nid: scheduled\n\n: keep-alive\n\n/);
});

Deno.test("status stream and status of an unknown backend are 404 ApiErrors", async () => {
  await using t = await startTestController();
  for (const path of ["/pub/b/nosuchbackend/status-stream", "/pub/b/nosuchbackend/status"]) {
    const res = await t.request(path);
    assert.equal(res.status, 404, path);
    const body = await res.json();
    assert.equal(body.kind, "NotFound");
    assert.equal(typeof body.id, "string");
    assert.equal(typeof body.message, "string");
  }
});

Deno.test("status returns the current entry with optional fields omitted", async () => {
  await using t = await startTestController();
  const backend = await seeded(t);
  const res = await t.request(`/pub/b/${backend}/status`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  const body = await res.json();
  assert.deepEqual(Object.keys(body).sort(), ["status", "time"]);
  assert.equal(body.status, "scheduled");
  assert.equal(Number.isInteger(body.time), true);

  await updateBackendState(t.db, backend, terminated(null));
  const end = await (await t.request(`/pub/b/${backend}/status`)).json();
  // exit_error is omitted when the exit code is unknown (decisions.md §2.14).
  assert.deepEqual(end, {
    status: "terminated",
    "termination_reason": "keyexpired",
    "termination_kind": "hard",
    time: end.time,
  });
  const { rows } = await t.db.query<{ time: number }>(
    "select floor(extract(epoch from last_status_time) * 1000)::float8 as time from backend where id = $1",
    [backend],
  );
  assert.equal(end.time, rows[0]!.time);
});

Deno.test("status?wait=ready answers once the backend is ready", async () => {
  await using t = await startTestController();
  const backend = await seeded(t);
  const answer = t.request(`/pub/b/${backend}/status?wait=ready&timeout=30`);
  await updateBackendState(t.db, backend, { status: "loading" });
  await updateBackendState(t.db, backend, { status: "ready", address: "127.0.0.1:9" });
  const res = await answer;
  assert.equal(res.status, 200);
  assert.equal((await res.json()).status, "ready");
});

Deno.test("status?wait=ready returns a terminated backend at once", async () => {
  await using t = await startTestController();
  const backend = await seeded(t);
  await updateBackendState(t.db, backend, terminated(0));
  const started = Date.now();
  const res = await t.request(`/pub/b/${backend}/status?wait=ready&timeout=30`);
  const body = await res.json();
  assert.equal(body.status, "terminated");
  assert.equal(body.exit_error, false);
  assert.ok(Date.now() - started < 5_000);
});

Deno.test("status?wait=ready returns the current status when the timeout passes", async () => {
  await using t = await startTestController();
  const backend = await seeded(t);
  const started = Date.now();
  const res = await t.request(`/pub/b/${backend}/status?wait=ready&timeout=1`);
  assert.equal((await res.json()).status, "scheduled");
  assert.ok(Date.now() - started >= 900);
});

Deno.test("status?wait=ready caps the timeout at maxWaitSeconds", async () => {
  await using t = await startTestController({ maxWaitSeconds: 1 });
  const backend = await seeded(t);
  const res = await t.request(`/pub/b/${backend}/status?wait=ready&timeout=600`);
  assert.equal((await res.json()).status, "scheduled");
});

Deno.test("status?wait=ready refuses invalid parameters with 400", async () => {
  await using t = await startTestController();
  const backend = await seeded(t);
  for (
    const query of ["wait=ready&timeout=abc", "wait=ready&timeout=-1", "wait=soon", "timeout=5"]
  ) {
    const res = await t.request(`/pub/b/${backend}/status?${query}`);
    assert.equal(res.status, 400, query);
    assert.equal((await res.json()).kind, "InvalidRequest");
  }
});

Deno.test("status?wait=ready for an unknown backend is a 404", async () => {
  await using t = await startTestController();
  const res = await t.request("/pub/b/nosuchbackend/status?wait=ready&timeout=1");
  assert.equal(res.status, 404);
  assert.equal((await res.json()).kind, "NotFound");
});
