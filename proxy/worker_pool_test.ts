/**
 * `startProxyWorkers()` (issue 13, `--workers N`): two workers on one port behind one
 * controller socket (a fake controller), real backends on loopback.
 */
import assert from "node:assert/strict";
import { claimPort, startProxyWorkers } from "./worker_pool.ts";
import { keepAlives, routeRequests, startFakeController } from "./testing/fake_controller.ts";
import { request } from "./testing/http_client.ts";
import { waitFor } from "../testing/wait_for.ts";
import { createLogger } from "../shared/log.ts";
import type { RouteInfo } from "../shared/protocol.ts";
import type { BackendName } from "../shared/names.ts";

const HOST: [string, string][] = [["Host", "plane.test"]];

function route(backend: string, address: string): RouteInfo {
  return {
    "backend_id": backend as BackendName,
    address,
    "secret_token": "secret987",
    cluster: "plane.test",
    user: null,
    "user_data": null,
    subdomain: null,
  };
}

/** A backend answering 200; while `hold` is set, requests wait for it to resolve. */
function startBackend() {
  const state: { hold: Promise<void> | null } = { hold: null };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async () => {
    if (state.hold !== null) await state.hold;
    return new Response("ok");
  });
  return { address: `127.0.0.1:${server.addr.port}`, state, close: () => server.shutdown() };
}

async function setup(options: { keepAliveIntervalMs?: number } = {}) {
  const lines: string[] = [];
  const log = createLogger("proxy", { level: "info", write: (line) => lines.push(line) });
  const fake = startFakeController();
  const backend = startBackend();
  fake.routes.set("tok-a", route("be-a", backend.address));
  fake.routes.set("tok-b", route("be-b", backend.address));
  const pool = await startProxyWorkers({
    workers: 2,
    name: "px-test",
    cluster: "plane.test",
    controllerUrl: fake.url,
    hostname: "127.0.0.1",
    httpPort: 0,
    logLevel: "error",
    keepAliveIntervalMs: options.keepAliveIntervalMs,
    backoffInitialMs: 10,
    backoffMaxMs: 50,
    log,
  });
  await waitFor(() => pool.ready(), { message: "pool ready" });
  return {
    fake,
    backend,
    pool,
    lines,
    port: pool.httpPort,
    async [Symbol.asyncDispose]() {
      await pool.close({ graceMs: 1_000 });
      await backend.close();
      await fake.close();
    },
  };
}

/** `count` requests at once, each on its own connection (so the kernel spreads them). */
function burst(port: number, target: string, count: number) {
  return Promise.all(Array.from({ length: count }, () => request(port, target, HOST)));
}

/** Requests each worker has answered so far. */
async function perWorker(pool: Awaited<ReturnType<typeof setup>>["pool"]): Promise<number[]> {
  return (await pool.stats()).map((s) => s?.requests ?? -1);
}

/** Sends fresh connections until both workers have answered some; returns their counts. */
async function useBothWorkers(h: Awaited<ReturnType<typeof setup>>, target: string) {
  return await waitFor(async () => {
    const responses = await burst(h.port, target, 16);
    for (const r of responses) assert.equal(r.status, 200);
    const counts = await perWorker(h.pool);
    return counts.every((n) => n > 0) ? counts : null;
  }, { message: "requests on both workers", timeoutMs: 5_000 });
}

Deno.test("startProxyWorkers(): connections spread across both workers, each asks the controller once per token", async () => {
  await using h = await setup();
  const counts = await useBothWorkers(h, "/tok-a/");
  assert.equal(counts.length, 2);
  // Both workers looked the token up; the controller was asked once.
  assert.deepEqual(routeRequests(h.fake.received).filter((t) => t === "tok-a"), ["tok-a"]);
});

Deno.test("startProxyWorkers(): TokenRevoked reaches every worker within 100 ms", async () => {
  await using h = await setup();
  await useBothWorkers(h, "/tok-a/");
  const before = await perWorker(h.pool);
  const sent = performance.now();
  h.fake.send({ TokenRevoked: { token: "tok-a" } });
  await waitFor(async () => {
    const responses = await burst(h.port, "/tok-a/", 16);
    return responses.every((r) => r.status === 410);
  }, { message: "every worker refuses the token", timeoutMs: 100, intervalMs: 1 });
  const elapsed = performance.now() - sent;
  // The refusals came from both workers, not from one the kernel happened to pick.
  const after = await waitFor(async () => {
    for (const r of await burst(h.port, "/tok-a/", 16)) assert.equal(r.status, 410);
    const counts = await perWorker(h.pool);
    return counts.every((n, i) => n > before[i]!) ? counts : null;
  }, { message: "refusals from both workers", timeoutMs: 5_000 });
  assert.equal(after.length, 2);
  assert.ok(elapsed <= 100, `revocation took ${elapsed} ms`);
  // Another token is untouched.
  assert.equal((await request(h.port, "/tok-b/", HOST)).status, 200);
});

Deno.test("startProxyWorkers(): BackendRemoved reaches every worker", async () => {
  await using h = await setup();
  await useBothWorkers(h, "/tok-b/");
  const before = await perWorker(h.pool);
  h.fake.send({ BackendRemoved: { backend: "be-b" as BackendName } });
  await waitFor(async () => {
    const responses = await burst(h.port, "/tok-b/", 16);
    return responses.every((r) => r.status === 410);
  }, { message: "every worker refuses the backend", timeoutMs: 1_000, intervalMs: 1 });
  await waitFor(async () => {
    for (const r of await burst(h.port, "/tok-b/", 16)) assert.equal(r.status, 410);
    const counts = await perWorker(h.pool);
    return counts.every((n, i) => n > before[i]!);
  }, { message: "refusals from both workers", timeoutMs: 5_000 });
});

Deno.test("startProxyWorkers(): a backend's keepalives reach the controller once per interval, not once per worker", async () => {
  const intervalMs = 300;
  await using h = await setup({ keepAliveIntervalMs: intervalMs });
  const start = performance.now();
  await useBothWorkers(h, "/tok-a/");
  // Traffic on both workers for a few intervals.
  while (performance.now() - start < 5 * intervalMs) await burst(h.port, "/tok-a/", 8);
  const elapsed = performance.now() - start;
  const sent = keepAlives(h.fake.received).filter((b) => b === "be-a").length;
  // One at first sight, then at most one per (0.9 ×) interval; two workers alone would double it.
  const allowed = 1 + Math.floor(elapsed / (0.9 * intervalMs));
  assert.ok(sent >= 2, `expected repeated keepalives, got ${sent}`);
  assert.ok(sent <= allowed, `${sent} keepalives in ${Math.round(elapsed)} ms (≤ ${allowed})`);
});

Deno.test("startProxyWorkers(): a worker that dies is logged and replaced on the same port", async () => {
  await using h = await setup();
  await useBothWorkers(h, "/tok-a/");
  h.pool.crash(1);
  await waitFor(() => h.pool.restarts === 1, { message: "restart" });
  const line = h.lines.map((l) => JSON.parse(l)).find((l) => l.message.includes("worker died"));
  assert.ok(line, `no death logged: ${h.lines.join("\n")}`);
  assert.equal(line.level, "error");
  assert.equal(line.worker, 1);
  // The replacement serves: its counters start again from zero and rise.
  await waitFor(async () => {
    for (const r of await burst(h.port, "/tok-a/", 16)) assert.equal(r.status, 200);
    const stats = await h.pool.stats();
    return stats[1] !== null && stats[1]!.requests > 0;
  }, { message: "replacement worker serving", timeoutMs: 5_000 });
});

Deno.test("startProxyWorkers(): close() lets requests in flight on every worker finish", async () => {
  await using h = await setup();
  await useBothWorkers(h, "/tok-a/");
  const release = Promise.withResolvers<void>();
  h.backend.state.hold = release.promise;
  const inFlight: Promise<{ status: number }>[] = [];
  await waitFor(async () => {
    const stats = await h.pool.stats();
    // Every request sent must have been accepted by a worker before close(): a connection
    // still in a listener's accept queue when that listener closes is reset by the kernel.
    const open = stats.reduce((n, s) => n + (s?.connections ?? 0), 0);
    if (open < inFlight.length) return false;
    if (inFlight.length > 0 && stats.every((s) => s !== null && s.connections > 0)) return true;
    for (let i = 0; i < 4; i++) {
      const answer = request(h.port, "/tok-a/", HOST);
      // Awaited below; marked handled now so a failure is reported there, not as unhandled.
      answer.catch(() => {});
      inFlight.push(answer);
    }
    return false;
  }, { message: "requests in flight on both workers", timeoutMs: 5_000 });
  let closed = false;
  const closing = h.pool.close({ graceMs: 10_000 }).then(() => (closed = true));
  // Both listeners stop at once; the held requests keep the workers draining meanwhile.
  await waitFor(
    () => Deno.connect({ hostname: "127.0.0.1", port: h.port }).then((c) => c.close(), () => true),
    { message: "listeners closed" },
  );
  assert.equal(closed, false);
  release.resolve();
  const responses = await Promise.all(inFlight);
  await closing;
  for (const r of responses) assert.equal(r.status, 200);
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: h.port }));
});

Deno.test("startProxyWorkers(): with HTTPS both workers serve TLS on one port, and the plain port redirects", async () => {
  const testdata = (name: string) => new URL(`./testdata/${name}`, import.meta.url);
  const ca = await Deno.readTextFile(testdata("ca1.pem"));
  const fake = startFakeController();
  const backend = startBackend();
  fake.routes.set("tok", route("be-tls", backend.address));
  const pool = await startProxyWorkers({
    workers: 2,
    name: "px-test",
    cluster: "plane.test",
    controllerUrl: fake.url,
    hostname: "127.0.0.1",
    httpPort: 0,
    https: { port: 0, certPath: testdata("cert1.json").pathname },
    logLevel: "error",
    log: createLogger("proxy", { level: "error" }),
  });
  async function tlsGet(): Promise<string> {
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: pool.httpsPort!,
      caCerts: [ca],
    });
    try {
      await conn.write(
        new TextEncoder().encode(
          "GET /tok/ HTTP/1.1\r\nHost: plane.test\r\nConnection: close\r\n\r\n",
        ),
      );
      let out = "";
      for await (const chunk of conn.readable.pipeThrough(new TextDecoderStream())) out += chunk;
      return out;
    } catch (err) {
      conn.close();
      throw err;
    }
  }
  try {
    await waitFor(() => pool.ready(), { message: "pool ready" });
    assert.notEqual(pool.httpsPort, undefined);
    await waitFor(async () => {
      const answers = await Promise.all(Array.from({ length: 8 }, tlsGet));
      for (const text of answers) assert.match(text, /^HTTP\/1\.1 200 /);
      const stats = await pool.stats();
      return stats.every((s) => s !== null && s.requests > 0);
    }, { message: "TLS requests on both workers", timeoutMs: 5_000 });
    const plain = await request(pool.httpPort, "/tok/", HOST);
    assert.equal(plain.status, 301);
  } finally {
    await pool.close({ graceMs: 300 });
    await backend.close();
    await fake.close();
  }
});

Deno.test("startProxyWorkers() refuses a port another pool already shares, instead of joining it", async () => {
  await using h = await setup();
  // SO_REUSEPORT alone would let a second pool join the first one's port and take half its
  // traffic; the ordinary bind of claimPort() fails first, with a message naming the cause.
  assert.throws(() => claimPort("127.0.0.1", h.port), /port is in use/);
  const log = createLogger("proxy", { level: "error", write: () => {} });
  await assert.rejects(
    startProxyWorkers({
      workers: 2,
      name: "px-second",
      cluster: "plane.test",
      controllerUrl: h.fake.url,
      hostname: "127.0.0.1",
      httpPort: h.port,
      logLevel: "error",
      log,
    }),
    /port is in use/,
  );
  // Port 0 resolves to a port nobody listens on.
  const free = claimPort("127.0.0.1", 0);
  assert.notEqual(free, h.port);
});
