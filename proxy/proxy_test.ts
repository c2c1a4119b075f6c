/**
 * The proxy end to end on loopback: a fake controller (plane-0.5.md §7.6), the real engine behind
 * `serveProxy`, and real backends. One test per proxy row of plane-0.5.md §12 table
 * (proxy.rs, proxy_headers.rs, proxy_cors.rs, proxy_server_header.rs, proxy_ready.rs,
 * proxy_connection_monitor.rs), plus decisions.md §2.10, §2.4: bounded waits, revocation,
 * reconnects.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { createProxy, type Proxy } from "./mod.ts";
import { serveProxy } from "./serve.ts";
import { startProxyWorkers } from "./worker_pool.ts";
import {
  type FakeController,
  keepAlives,
  routeRequests,
  startFakeController,
} from "./testing/fake_controller.ts";
import { RawConnection, request } from "./testing/http_client.ts";
import { probeBackend, rawExchange } from "./engine/_test_util.ts";
import { CASES } from "./engine/_smuggling_corpus.ts";
import { waitFor } from "../testing/wait_for.ts";
import { SERVER_HEADER } from "./request.ts";
import { createLogger } from "../shared/log.ts";
import type { RouteInfo } from "../shared/protocol.ts";
import type { BackendName } from "../shared/names.ts";
import type { EngineStats } from "./engine/engine.ts";
import type { EngineLimits } from "./engine/types.ts";

const log = createLogger("proxy", { level: "error" });

interface Seen {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** A backend that records every request and answers JSON; `/ws` echoes WebSocket messages. */
function startBackend(
  options: { headers?: Record<string, string> } = {},
): { address: string; seen: Seen[]; close(): Promise<void> } {
  const seen: Seen[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    const entry: Seen = {
      method: req.method,
      path: url.pathname + url.search,
      headers: Object.fromEntries(req.headers),
      body: await req.text(),
    };
    seen.push(entry);
    if (url.pathname.endsWith("/ws")) {
      const { socket, response } = Deno.upgradeWebSocket(req);
      socket.onmessage = (e) => socket.send(`echo:${e.data}`);
      return response;
    }
    return Response.json(entry, { headers: { server: "deno-backend", ...options.headers } });
  });
  return {
    address: `127.0.0.1:${server.addr.port}`,
    seen,
    close: () => server.shutdown(),
  };
}

function route(backend: string, address: string, more: Partial<RouteInfo> = {}): RouteInfo {
  return {
    "backend_id": backend as BackendName,
    address,
    "secret_token": "secret987",
    cluster: "plane.test",
    user: null,
    "user_data": null,
    subdomain: null,
    ...more,
  };
}

interface Harness extends AsyncDisposable {
  fake: FakeController;
  /**
   * The in-thread proxy, for tests that also look at its internals (route cache, monitor,
   * tunnels); null with workers, whose proxies live in other threads: those tests assert the
   * same behaviour through `stats()` and the controller's messages instead.
   */
  local: Proxy | null;
  port: number;
  backend: ReturnType<typeof startBackend>;
  /** Engines serving `port` (1: in-thread, 2: workers). */
  workers: number;
  /** True while the controller connection is up. */
  ready(): boolean;
  /** Each engine's counters, in worker order (one entry in-thread). */
  stats(): Promise<EngineStats[]>;
}

/** Workers behind the harness's port; `routing.test` runs its cases with 1 and with 2. */
let harnessWorkers = 1;

/** Routing cases that must answer the same whether one engine or two workers serve the port. */
const routing = {
  /** Registers the case once per worker count (issue 13, `--workers`). */
  test(name: string, fn: () => Promise<void>) {
    for (const workers of [1, 2]) {
      Deno.test(workers === 1 ? name : `${name} [2 workers]`, async () => {
        harnessWorkers = workers;
        try {
          await fn();
        } finally {
          harnessWorkers = 1;
        }
      });
    }
  },
};

async function harness(
  options: {
    rootRedirectUrl?: string;
    routeWaitMs?: number;
    connect?: boolean;
    backendHeaders?: Record<string, string>;
    pathRouting?: boolean;
    keepAliveIntervalMs?: number;
    limits?: Partial<EngineLimits>;
  } = {},
): Promise<Harness> {
  const fake = startFakeController();
  if (options.connect === false) fake.refuse = true;
  const backend = startBackend({ headers: options.backendHeaders ?? {} });
  if (harnessWorkers > 1) {
    const pool = await startProxyWorkers({
      workers: harnessWorkers,
      name: "px-test",
      cluster: "plane.test",
      controllerUrl: fake.url,
      rootRedirectUrl: options.rootRedirectUrl,
      routeWaitMs: options.routeWaitMs,
      pathRouting: options.pathRouting,
      keepAliveIntervalMs: options.keepAliveIntervalMs,
      limits: options.limits,
      hostname: "127.0.0.1",
      httpPort: 0,
      logLevel: "error",
      backoffInitialMs: 10,
      backoffMaxMs: 50,
      log,
    });
    if (options.connect !== false) await waitFor(() => pool.ready(), { message: "pool ready" });
    return {
      fake,
      local: null,
      port: pool.httpPort,
      backend,
      workers: harnessWorkers,
      ready: () => pool.ready(),
      async stats() {
        const stats = await pool.stats();
        return stats.map((s, i) => {
          if (s === null) throw new Error(`Proxy worker ${i} did not report its counters`);
          return s;
        });
      },
      async [Symbol.asyncDispose]() {
        await pool.close({ graceMs: 1_000 });
        await backend.close();
        await fake.close();
      },
    };
  }
  const proxy = createProxy({
    cluster: "plane.test",
    controllerUrl: fake.url,
    rootRedirectUrl: options.rootRedirectUrl,
    routeWaitMs: options.routeWaitMs,
    pathRouting: options.pathRouting,
    keepAliveIntervalMs: options.keepAliveIntervalMs,
    backoffInitialMs: 10,
    backoffMaxMs: 50,
    log,
  });
  const server = await serveProxy(proxy, {
    hostname: "127.0.0.1",
    httpPort: 0,
    limits: options.limits ?? {},
    log,
  });
  if (options.connect !== false) await waitFor(() => proxy.ready(), { message: "proxy ready" });
  return {
    fake,
    local: proxy,
    port: server.httpPort,
    backend,
    workers: 1,
    ready: () => proxy.ready(),
    stats: () => Promise.resolve([{ ...server.stats }]),
    async [Symbol.asyncDispose]() {
      await server.close({ graceMs: 1_000 });
      await proxy.close();
      await backend.close();
      await fake.close();
    },
  };
}

/**
 * Sends `send` on fresh connections, eight at a time (the kernel spreads fresh connections
 * across the workers), until one round's answers all pass `ok` and reached every engine, as
 * their request counters show. `always`: an answer failing `ok` fails the test at once, instead
 * of waiting for a change still on its way to some worker.
 */
async function onEveryWorker<T>(
  h: Harness,
  send: () => Promise<T>,
  ok: (answer: T) => boolean,
  { always = false, message = "answers from every worker" } = {},
): Promise<void> {
  await waitFor(async () => {
    const before = await h.stats();
    const answers = await Promise.all(Array.from({ length: 8 }, send));
    const bad = answers.find((answer) => !ok(answer));
    if (always && bad !== undefined) assert.fail(`${message}: got ${JSON.stringify(bad)}`);
    if (bad !== undefined) return false;
    const after = await h.stats();
    return after.every((s, i) => s.requests > before[i]!.requests);
  }, { message, timeoutMs: 15_000 });
}

/** Upgraded tunnels open now on each engine. */
async function tunnelsPerWorker(h: Harness): Promise<number[]> {
  return (await h.stats()).map((s) => s.upgrades);
}

const sum = (counts: number[]) => counts.reduce((a, b) => a + b, 0);

routing.test("proxy: GET / answers 400 with no Location and asks no route (proxy_root_no_redirect)", async () => {
  await using h = await harness();
  const res = await request(h.port, "/");
  assert.equal(res.status, 400);
  assert.equal(res.headers.get("location"), undefined);
  // Plane's body is empty; ours is the JSON error of every proxy-made answer (issue 10, #7).
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.equal(JSON.parse(res.body).kind, "InvalidRequest");
  assert.deepEqual(routeRequests(h.fake.received), []);
});

routing.test("proxy: GET / redirects 301 to the root redirect URL (proxy_root_redirect)", async () => {
  await using h = await harness({ rootRedirectUrl: "https://plane.test/" });
  const res = await request(h.port, "/");
  assert.equal(res.status, 301);
  assert.equal(res.headers.get("location"), "https://plane.test/");
});

routing.test("proxy: an unknown token asks the controller and answers 410 (proxy_bad_bearer_token)", async () => {
  await using h = await harness();
  const res = await request(h.port, "/abc123/");
  assert.equal(res.status, 410);
  assert.deepEqual(routeRequests(h.fake.received), ["abc123"]);
});

routing.test("proxy: 410 carries CORS and Server headers (proxy_gone_request_has_cors_headers, proxy_server_header)", async () => {
  await using h = await harness();
  const res = await request(h.port, "/abc123/");
  assert.equal(res.status, 410);
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  assert.equal(res.headers.get("access-control-allow-methods"), "*");
  assert.equal(res.headers.get("access-control-allow-headers"), "*, Authorization");
  assert.equal(res.headers.get("server"), SERVER_HEADER);
  assert.match(SERVER_HEADER, /^Plane\/\d+\.\d+\.\d+-[0-9a-f]{8}$/);
});

routing.test("proxy: an unreachable backend answers 502 with Plane's headers (proxy_backend_unreachable)", async () => {
  await using h = await harness();
  // A port that was just free: nothing listens there.
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
  const port = (closed.address() as net.AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  h.fake.routes.set("tok", route("b1", `127.0.0.1:${port}`));
  const res = await request(h.port, "/tok/");
  assert.equal(res.status, 502);
  assert.equal(res.headers.get("server"), SERVER_HEADER);
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
});

routing.test("proxy: a routed request reaches the backend at / with GET (proxy_backend_accepts)", async () => {
  await using h = await harness();
  h.fake.routes.set("abc123", route("b1", h.backend.address));
  const res = await request(h.port, "/abc123/");
  assert.equal(res.status, 200);
  assert.equal(h.backend.seen[0]?.path, "/");
  assert.equal(h.backend.seen[0]?.method, "GET");
  assert.equal(h.backend.seen[0]?.headers.host, "plane.test", "the original Host is kept");
});

routing.test("proxy: a static token's path reaches the backend unmodified (proxy_static_token)", async () => {
  await using h = await harness();
  h.fake.routes.set("s.abc123", route("b1", h.backend.address, { "secret_token": "" }));
  const res = await request(h.port, "/s.abc123/foobar");
  assert.equal(res.status, 200);
  assert.deepEqual(routeRequests(h.fake.received), ["s.abc123"]);
  assert.equal(h.backend.seen[0]?.path, "/s.abc123/foobar");
  assert.equal(h.backend.seen[0]?.headers["x-verified-user-data"], undefined);
  assert.equal(h.backend.seen[0]?.headers["x-verified-secret"], "");
});

routing.test("proxy: a route with a subdomain refuses a host without it (proxy_expected_subdomain_not_present)", async () => {
  await using h = await harness();
  h.fake.routes.set("tok", route("b1", h.backend.address, { subdomain: "mysubdomain" }));
  const res = await request(h.port, "/tok/");
  assert.equal(res.status, 403);
  assert.equal(h.backend.seen.length, 0);
});

routing.test("proxy: a route with a subdomain accepts that subdomain (proxy_expected_subdomain_is_present)", async () => {
  await using h = await harness();
  const cluster = `plane.test:${h.port}`;
  h.fake.routes.set("tok", route("b1", h.backend.address, { subdomain: "mysubdomain", cluster }));
  const res = await request(h.port, "/tok/", [["Host", `mysubdomain.${cluster}`]]);
  assert.equal(res.status, 200);
});

routing.test("proxy: the backend sees x-forwarded-for and -proto, client values replaced (proxy_backend_passes_forwarded_headers)", async () => {
  await using h = await harness();
  h.fake.routes.set("tok", route("b1", h.backend.address));
  await request(h.port, "/tok/", [
    ["Host", "plane.test"],
    ["X-Forwarded-For", "6.6.6.6"],
    ["X-Forwarded-Proto", "https"],
  ]);
  assert.equal(h.backend.seen[0]?.headers["x-forwarded-for"], "127.0.0.1");
  assert.equal(h.backend.seen[0]?.headers["x-forwarded-proto"], "http");
});

routing.test("proxy: proxied responses carry x-plane-backend-id and Plane's Server (proxy_returns_backend_id_in_header)", async () => {
  await using h = await harness();
  h.fake.routes.set("tok", route("backend123", h.backend.address));
  const res = await request(h.port, "/tok/");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-plane-backend-id"), "backend123");
  assert.equal(res.headers.get("server"), SERVER_HEADER, "the backend's Server is replaced");
});

routing.test("proxy: forged x-verified-* headers are stripped, others kept (proxy_fake_verified_headers_are_stripped)", async () => {
  await using h = await harness();
  h.fake.routes.set("tok", route("b1", h.backend.address));
  await request(h.port, "/tok/", [
    ["Host", "plane.test"],
    ["x-verified-blah", "forged"],
    ["X-Verified-Backend", "forged"],
    ["x-other", "kept"],
  ]);
  const seen = h.backend.seen[0]!.headers;
  assert.equal(seen["x-verified-blah"], undefined);
  assert.equal(seen["x-verified-backend"], "b1");
  assert.equal(seen["x-other"], "kept");
});

routing.test("proxy: the backend sees Plane's headers exactly (proxy_plane_headers_are_set)", async () => {
  await using h = await harness();
  h.fake.routes.set(
    "abc123",
    route("backend123", h.backend.address, {
      user: "auser123",
      "user_data": { access: "readonly", email: "a@example.com" },
      "secret_token": "secret987",
    }),
  );
  const res = await request(h.port, "/abc123/a/b/c/");
  assert.equal(res.status, 200);
  const seen = h.backend.seen[0]!;
  assert.equal(seen.path, "/a/b/c/");
  assert.equal(seen.headers["x-verified-username"], "auser123");
  assert.equal(
    seen.headers["x-verified-user-data"],
    '{"access":"readonly","email":"a@example.com"}',
  );
  assert.equal(seen.headers["x-verified-secret"], "secret987");
  assert.equal(seen.headers["x-verified-path"], "/abc123/a/b/c/");
  assert.equal(seen.headers["x-verified-backend"], "backend123");
});

routing.test("proxy: a proxied 200 without CORS gets `*, Authorization` (proxy_valid_request_has_cors_headers)", async () => {
  await using h = await harness();
  h.fake.routes.set("tok", route("b1", h.backend.address));
  const res = await request(h.port, "/tok/");
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  assert.equal(res.headers.get("access-control-allow-methods"), "*");
  assert.equal(res.headers.get("access-control-allow-headers"), "*, Authorization");
});

routing.test("proxy: a backend's own CORS headers are left alone (plane-0.5.md §7.2 step 10)", async () => {
  await using h = await harness({
    backendHeaders: { "access-control-allow-origin": "https://app.example" },
  });
  h.fake.routes.set("tok", route("b1", h.backend.address));
  const res = await request(h.port, "/tok/");
  assert.equal(res.headers.get("access-control-allow-origin"), "https://app.example");
  assert.equal(res.headers.get("access-control-allow-methods"), undefined);
});

routing.test("proxy: /ready answers 503 on every worker before the controller connection and 200 after (proxy_ready.rs)", async () => {
  await using h = await harness({ connect: false });
  const ready = () => request(h.port, "/ready");
  await onEveryWorker(h, ready, (res) => res.status === 503, {
    always: true,
    message: "503 from every worker",
  });
  h.fake.refuse = false;
  await waitFor(() => h.ready(), { message: "proxy ready" });
  // Workers hear of the connection from the main thread just after it comes up.
  await onEveryWorker(h, ready, (res) => res.status === 200 && res.body === "", {
    message: "200 from every worker",
  });
});

routing.test("proxy: a plain request marks the backend recently active (proxy_marks_backend_as_recently_active)", async () => {
  await using h = await harness();
  h.fake.routes.set("tok", route("b1", h.backend.address));
  // Every worker's monitor sights the backend; the controller hears of it once (plane-0.5.md §7.5).
  await onEveryWorker(h, () => request(h.port, "/tok/"), (res) => res.status === 200, {
    always: true,
  });
  if (h.local !== null) {
    assert.deepEqual(h.local.monitor.entry("b1"), {
      activeConnections: 0,
      hadRecentConnection: true,
    });
  }
  await h.fake.next((m) => "KeepAlive" in m);
  assert.deepEqual(keepAlives(h.fake.received), ["b1"]);
});

Deno.test("proxy: a WebSocket echoes through the proxy and the monitor counts it while open (proxy_marks_websocket_backend_as_active)", async () => {
  await using h = await harness();
  const proxy = h.local;
  assert.ok(proxy !== null, "in-thread harness");
  const cluster = `127.0.0.1:${h.port}`;
  h.fake.routes.set("tok", route("b1", h.backend.address, { cluster }));
  const ws = new WebSocket(`ws://${cluster}/tok/ws`);
  const messages: string[] = [];
  const closed = new Promise<void>((resolve) => (ws.onclose = () => resolve()));
  ws.onmessage = (e) => messages.push(String(e.data));
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("WebSocket through the proxy failed"));
  });
  ws.send("hello");
  await waitFor(() => messages.length === 1, { message: "echo" });
  assert.deepEqual(messages, ["echo:hello"]);
  assert.deepEqual(proxy.monitor.entry("b1"), {
    activeConnections: 1,
    hadRecentConnection: true,
  });
  assert.equal(h.backend.seen[0]?.path, "/ws");
  ws.close();
  await closed;
  await waitFor(() => proxy.monitor.entry("b1")?.activeConnections === 0, {
    message: "connection counted closed",
  });
  assert.equal(proxy.monitor.entry("b1")?.hadRecentConnection, true);
});

routing.test("proxy: an open WebSocket keeps its backend alive on every revisit (proxy_marks_websocket_backend_as_active)", async () => {
  // Revisits every 100 ms: one without an open connection or a new request forgets the backend.
  await using h = await harness({ keepAliveIntervalMs: 100 });
  const cluster = `127.0.0.1:${h.port}`;
  h.fake.routes.set("tok", route("b1", h.backend.address, { cluster }));
  const ws = await openEcho(cluster, "tok");
  try {
    await ws.echo("hello");
    assert.equal(h.backend.seen[0]?.path, "/ws");
    await waitFor(async () => sum(await tunnelsPerWorker(h)) === 1, { message: "tunnel counted" });
    // An uncounted upgrade sends two at most: at first sight and at the one revisit that sees
    // its request. Four show the open connection kept it alive with no traffic since.
    await waitFor(() => keepAlives(h.fake.received).filter((b) => b === "b1").length >= 4, {
      message: "keepalives while the WebSocket is open",
      timeoutMs: 15_000,
    });
  } finally {
    await ws.close();
  }
  await waitFor(async () => sum(await tunnelsPerWorker(h)) === 0, { message: "tunnel closed" });
});

routing.test("proxy: a route pending past the wait limit answers 504 (decisions.md §2.10)", async () => {
  await using h = await harness({ routeWaitMs: 100 });
  h.fake.routes.set("tok", "pending");
  const res = await request(h.port, "/tok/");
  assert.equal(res.status, 504);
  assert.equal(res.headers.get("server"), SERVER_HEADER);
});

routing.test("proxy: a pending route is served once the controller sends it (plane-0.5.md §7.3)", async () => {
  await using h = await harness();
  h.fake.routes.set("tok", "pending");
  const answer = request(h.port, "/tok/x");
  await h.fake.next((m) => "RouteInfoRequest" in m);
  h.fake.send({
    RouteInfoResponse: { token: "tok", "route_info": route("b1", h.backend.address) },
  });
  const res = await answer;
  assert.equal(res.status, 200);
  assert.equal(h.backend.seen[0]?.path, "/x");
});

routing.test("proxy: a reconnect re-asks pending tokens and serves the answer (decisions.md §2.10)", async () => {
  await using h = await harness();
  h.fake.routes.set("tok", "pending");
  const answer = request(h.port, "/tok/");
  await h.fake.next((m) => "RouteInfoRequest" in m);
  h.fake.routes.set("tok", route("b1", h.backend.address));
  h.fake.dropConnections();
  assert.equal((await answer).status, 200);
  assert.deepEqual(routeRequests(h.fake.received), ["tok", "tok"]);
});

routing.test("proxy: TokenRevoked makes the next request 410 on every worker (decisions.md §2.4)", async () => {
  await using h = await harness();
  h.fake.routes.set("tok", route("b1", h.backend.address));
  await onEveryWorker(h, () => request(h.port, "/tok/"), (res) => res.status === 200, {
    always: true,
  });
  const asked = routeRequests(h.fake.received);
  h.fake.send({ TokenRevoked: { token: "tok" } });
  const local = h.local;
  if (local !== null) {
    await waitFor(() => local.routes.peek("tok") === null, { message: "token revoked" });
  }
  await onEveryWorker(h, () => request(h.port, "/tok/"), (res) => res.status === 410, {
    message: "410 from every worker",
  });
  // Refused from each worker's cache: the controller is not asked again.
  assert.deepEqual(routeRequests(h.fake.received), asked);
  assert.deepEqual([...new Set(asked)], ["tok"]);
});

routing.test("proxy: BackendRemoved makes the next request 410 on every worker (plane-0.5.md §7.3)", async () => {
  await using h = await harness();
  h.fake.routes.set("tok", route("b1", h.backend.address));
  await onEveryWorker(h, () => request(h.port, "/tok/"), (res) => res.status === 200, {
    always: true,
  });
  h.fake.send({ BackendRemoved: { backend: "b1" as BackendName } });
  const local = h.local;
  if (local !== null) {
    await waitFor(() => local.routes.peek("tok") === null, { message: "backend removed" });
  }
  await onEveryWorker(h, () => request(h.port, "/tok/"), (res) => res.status === 410, {
    message: "410 from every worker",
  });
});

/** A WebSocket through the proxy at `ws://{cluster}/{token}/ws`, echoed by the test backend. */
async function openEcho(cluster: string, token: string) {
  const ws = new WebSocket(`ws://${cluster}/${token}/ws`);
  const messages: string[] = [];
  let closed = false;
  const done = new Promise<void>((resolve) => (ws.onclose = () => resolve()));
  void done.then(() => (closed = true));
  ws.onmessage = (e) => messages.push(String(e.data));
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("WebSocket through the proxy failed"));
  });
  return {
    get closed() {
      return closed;
    },
    async echo(text: string) {
      const before = messages.length;
      ws.send(text);
      await waitFor(() => messages.length > before, { message: `echo of ${text}` });
      assert.equal(messages[before], `echo:${text}`);
    },
    close() {
      if (!closed) ws.close();
      return done;
    },
  };
}

type Echo = Awaited<ReturnType<typeof openEcho>>;

/**
 * Opens WebSockets for `token` into `opened` (the caller closes them) until there are at least
 * `min` and every engine holds one more tunnel than before; returns each engine's tunnels then.
 * Each is a fresh connection, so the kernel spreads them; 64 all on one worker would be a bug.
 */
async function openOnEveryWorker(
  h: Harness,
  cluster: string,
  token: string,
  opened: Echo[],
  min: number,
): Promise<number[]> {
  const before = await tunnelsPerWorker(h);
  let now = before;
  while (opened.length < min || now.some((n, i) => n <= before[i]!)) {
    assert.ok(opened.length < 64, `${opened.length} WebSockets, tunnels per worker ${now}`);
    opened.push(await openEcho(cluster, token));
    const expected = sum(before) + opened.length;
    now = await waitFor(async () => {
      const counts = await tunnelsPerWorker(h);
      return sum(counts) === expected ? counts : null;
    }, { message: `${expected} tunnels open` });
  }
  return now;
}

routing.test("proxy: TokenRevoked closes the WebSockets its token opened on every worker, and only those (issue 10)", async () => {
  await using h = await harness();
  const cluster = `127.0.0.1:${h.port}`;
  h.fake.routes.set("tok", route("b1", h.backend.address, { cluster }));
  h.fake.routes.set("other", route("b1", h.backend.address, { cluster }));
  const revoked: Echo[] = [];
  const bystanders: Echo[] = [];
  try {
    const withRevoked = await openOnEveryWorker(h, cluster, "tok", revoked, 2);
    const withBoth = await openOnEveryWorker(h, cluster, "other", bystanders, 1);
    await revoked[0]!.echo("a");
    if (h.local !== null) assert.equal(h.local.tunnels.count("tok"), revoked.length);
    h.fake.send({ TokenRevoked: { token: "tok" } });
    await waitFor(() => revoked.every((ws) => ws.closed), { message: "revoked tunnels closed" });
    // Each worker closed the revoked token's tunnels it held and kept every bystander.
    const bystandersPerWorker = withBoth.map((n, i) => n - withRevoked[i]!);
    await waitFor(
      async () => (await tunnelsPerWorker(h)).every((n, i) => n === bystandersPerWorker[i]),
      { message: `tunnels per worker back to ${bystandersPerWorker}` },
    );
    const local = h.local;
    if (local !== null) {
      assert.equal(local.tunnels.count("tok"), 0);
      await waitFor(() => local.monitor.entry("b1")?.activeConnections === bystanders.length, {
        message: "closed tunnels no longer counted",
      });
    }
    for (const ws of bystanders) await ws.echo("still open");
    assert.ok(bystanders.every((ws) => !ws.closed));
  } finally {
    for (const ws of [...revoked, ...bystanders]) await ws.close();
  }
});

routing.test("proxy: BackendRemoved refuses new requests but leaves open WebSockets open on every worker (issue 10)", async () => {
  await using h = await harness();
  const cluster = `127.0.0.1:${h.port}`;
  h.fake.routes.set("tok", route("b1", h.backend.address, { cluster }));
  const sockets: Echo[] = [];
  try {
    const held = await openOnEveryWorker(h, cluster, "tok", sockets, 1);
    await sockets[0]!.echo("before");
    h.fake.send({ BackendRemoved: { backend: "b1" as BackendName } });
    const local = h.local;
    if (local !== null) {
      await waitFor(() => local.routes.peek("tok") === null, { message: "backend removed" });
    }
    await onEveryWorker(
      h,
      () => request(h.port, "/tok/", [["Host", cluster]]),
      (res) => res.status === 410,
      { message: "410 from every worker" },
    );
    for (const ws of sockets) await ws.echo("during grace");
    assert.ok(sockets.every((ws) => !ws.closed));
    assert.deepEqual(await tunnelsPerWorker(h), held);
  } finally {
    for (const ws of sockets) await ws.close();
  }
});

routing.test("proxy without path routing: /_plane_backend=<id>/ answers 410 and asks the controller nothing (issue 10)", async () => {
  await using h = await harness();
  h.fake.routes.set("_plane_backend=b1", route("b1", h.backend.address, { "secret_token": "" }));
  for (const target of ["/_plane_backend=b1/", "/%5Fplane_backend%3Db1/x", "/_plane_backend=b1"]) {
    const res = await request(h.port, target);
    assert.equal(res.status, 410, target);
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
  }
  assert.deepEqual(routeRequests(h.fake.received), []);
  assert.equal(h.backend.seen.length, 0);
});

routing.test("proxy: two tokens on one keep-alive connection reach two backends", async () => {
  await using h = await harness();
  const other = startBackend();
  try {
    h.fake.routes.set("one", route("b1", h.backend.address));
    h.fake.routes.set("two", route("b2", other.address));
    await using conn = await RawConnection.open(h.port);
    await conn.send("GET", "/one/a", [["Host", "plane.test"]]);
    const first = await conn.read();
    await conn.send("POST", "/two/b?q=1", [["Host", "plane.test"]], "payload");
    const second = await conn.read();
    assert.equal(first.headers.get("x-plane-backend-id"), "b1");
    assert.equal(second.headers.get("x-plane-backend-id"), "b2");
    assert.equal(h.backend.seen[0]?.path, "/a");
    assert.deepEqual(
      [other.seen[0]?.method, other.seen[0]?.path, other.seen[0]?.body],
      ["POST", "/b?q=1", "payload"],
    );
  } finally {
    await other.close();
  }
});

routing.test("proxy path routing: /_plane_backend=<id>/ rewrites the path, keeps the query, ignores Host", async () => {
  await using h = await harness({ pathRouting: true });
  h.fake.routes.set("_plane_backend=b1", route("b1", h.backend.address, { "secret_token": "" }));
  const cases: [string, string][] = [
    ["/_plane_backend=b1/some/path?x=1", "/some/path?x=1"],
    ["/_plane_backend=b1", "/"],
    ["/_plane_backend=b1?x=1", "/?x=1"],
  ];
  for (const [target, upstream] of cases) {
    const res = await request(h.port, target, [["Host", "anything.example"]]);
    assert.equal(res.status, 200, target);
    assert.equal(h.backend.seen.at(-1)?.path, upstream, target);
    assert.equal(h.backend.seen.at(-1)?.headers["x-verified-backend"], "b1");
    assert.equal(h.backend.seen.at(-1)?.headers["x-verified-path"], target.split("?")[0]);
  }
  assert.deepEqual([...new Set(routeRequests(h.fake.received))], ["_plane_backend=b1"]);
});

routing.test("proxy path routing: a path without the prefix is 400 and an unknown backend 404, both with CORS", async () => {
  await using h = await harness({ pathRouting: true });
  for (const target of ["/abc123/", "/s.token/x", "/_plane_backend=/x", "/_plane_backend=UPPER/"]) {
    const res = await request(h.port, target);
    assert.equal(res.status, 400, target);
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
  }
  assert.deepEqual(routeRequests(h.fake.received), [], "no route was asked for");
  const unknown = await request(h.port, "/_plane_backend=nosuch/");
  assert.equal(unknown.status, 404);
  assert.equal(unknown.headers.get("access-control-allow-origin"), "*");
  assert.equal(h.backend.seen.length, 0);
});

/** Chromium's Accept for a page navigation. */
const NAVIGATION = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

routing.test("proxy: a browser gets the HTML page for the proxy's 410 and the engine's 502, others JSON (issue 12)", async () => {
  await using h = await harness();
  const browser: [string, string][] = [["Host", "plane.test"], ["Accept", NAVIGATION]];
  const gone = await request(h.port, "/abc123/", browser);
  assert.equal(gone.status, 410);
  assert.equal(gone.headers.get("content-type"), "text/html; charset=utf-8");
  assert.equal(gone.headers.get("cache-control"), "no-store");
  assert.equal(gone.headers.get("access-control-allow-origin"), "*");
  assert.equal(gone.headers.get("server"), SERVER_HEADER);
  assert.match(gone.body, /<h1>This session has ended<\/h1>/);

  // The engine's own 502 (nothing listens at the route's address) sees the request's Accept.
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
  const port = (closed.address() as net.AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  h.fake.routes.set("tok", route("b1", `127.0.0.1:${port}`));
  const down = await request(h.port, "/tok/", browser);
  assert.equal(down.status, 502);
  assert.equal(down.headers.get("content-type"), "text/html; charset=utf-8");
  assert.match(down.body, /This session cannot be reached/);
  assert.equal(down.headers.get("server"), SERVER_HEADER);
  const api = await request(h.port, "/tok/", [["Host", "plane.test"], ["Accept", "*/*"]]);
  assert.equal(api.status, 502);
  assert.equal(api.headers.get("content-type"), "application/json");
  assert.equal(JSON.parse(api.body).kind, "BadGateway");
});

routing.test("proxy: /favicon.ico is a quiet 404 that asks the controller nothing (issue 12)", async () => {
  await using h = await harness();
  const image: [string, string][] = [["Host", "plane.test"], ["Accept", "image/*"]];
  const icon = await request(h.port, "/favicon.ico", image);
  assert.equal(icon.status, 404);
  assert.equal(icon.headers.get("content-type"), "application/json");
  assert.equal(JSON.parse(icon.body).kind, "NotFound");
  assert.equal(icon.headers.get("server"), SERVER_HEADER);
  assert.deepEqual(routeRequests(h.fake.received), []);
});

routing.test("proxy: the smuggling corpus gets a 4xx and a closed connection, and the backend never sees a smuggled request (targets.md §4)", async () => {
  await using h = await harness({ limits: { maxHeadBytes: 4096 } });
  await using probe = await probeBackend();
  h.fake.routes.set("tok", route("be-p", `127.0.0.1:${probe.port}`));
  const routed = (part: string) =>
    part.replace(/^(GET|POST) \/ /, "$1 /tok/ ").replaceAll("app.example.com", "plane.test");
  // With workers, twice over, so the kernel's spreading of fresh connections reaches each.
  for (const c of h.workers === 1 ? CASES : [...CASES, ...CASES]) {
    const before = probe.received().length;
    const r = await rawExchange(h.port, c.parts.map(routed), { deadlineMs: 3000 });
    const status = Number(r.response.slice(9, 12));
    if (c.status !== undefined) assert.equal(status, c.status, c.name);
    else assert.ok(status >= 400 && status < 500, `${c.name}: ${JSON.stringify(r.response)}`);
    assert.match(r.response, /\r\nConnection: close\r\n/, c.name);
    assert.ok(r.closed, `${c.name}: connection left open`);
    // Exactly one response (an error message may itself name HTTP/1.1).
    assert.equal(r.response.match(/(^|\r\n)HTTP\/1\.1 \d{3} /g)?.length, 1, c.name);
    const received = probe.received().slice(before);
    // Only a validated prefix may reach the backend (a valid head, whole chunks).
    if (c.allowed === undefined) assert.equal(received, "", c.name);
    else assert.ok(received === "" || received === c.allowed, `${c.name}: ${received}`);
    assert.ok(!received.includes("/admin"), c.name);
  }
  const stats = await h.stats();
  assert.ok(stats.every((s) => s.rejected > 0), JSON.stringify(stats));
});
