/**
 * `shared/client.ts` against a real controller, Postgres and drone (local-process runtime):
 * every method, the error mapping, and status-stream resumption after a dropped connection.
 */
import assert from "node:assert/strict";
import { startTestController } from "../controller/testing/test_controller.ts";
import { createPlaneClient, PlaneApiError } from "../shared/client.ts";
import type { BackendStatusStreamEntry } from "../shared/backend_state.ts";
import { startTestDrone, waitForSchedulable } from "./env.ts";
import { startTcpRelay } from "./fixtures/tcp_relay.ts";

const CLUSTER = "localhost:9090";
const ECHO = { executable: { image: "echo" } };

async function collect<T>(items: AsyncIterable<T>, until?: (item: T) => boolean): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) {
    out.push(item);
    if (until?.(item)) break;
  }
  return out;
}

async function rejectsWith(promise: Promise<unknown>, status: number, kind: string) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof PlaneApiError, `expected a PlaneApiError, got ${err}`);
    assert.equal(err.status, status);
    assert.equal(err.kind, kind);
    assert.match(err.id ?? "", /^[a-z0-9]{14}$/);
    assert.ok(err.message.length > 0);
    return true;
  });
}

Deno.test("PlaneClient drives a backend from connect to terminated", async () => {
  await using t = await startTestController({ defaultCluster: CLUSTER });
  await using d = await startTestDrone({ controllerUrl: t.url, cluster: CLUSTER });
  await waitForSchedulable(t.db, d.drone.name);
  const plane = createPlaneClient({ controllerUrl: `${t.url}/` });
  assert.equal(plane.controllerUrl, t.url);
  assert.deepEqual(await plane.controllerStatus(), {
    status: "ok",
    version: "0.5.6",
    hash: "00000000",
  });

  const first = await plane.connect({
    key: { name: "doc-1", tag: "v1" },
    spawn_config: ECHO,
    user: "alice",
  });
  assert.equal(first.spawned, true);
  assert.equal(first.status, "scheduled");
  assert.equal(first.drone, d.drone.name);
  assert.equal(first.url, `http://${CLUSTER}/${first.token}/`);
  const id = first.backend_id;

  const ready = await plane.waitReady(id, { timeoutSeconds: 20 });
  assert.equal(ready.status, "ready");
  assert.equal((await plane.status(id)).status, "ready");
  const history = await collect(plane.statusStream(id), (e) => e.status === "ready");
  assert.deepEqual(history.map((e) => e.status), [
    "scheduled",
    "loading",
    "starting",
    "waiting",
    "ready",
  ]);

  const again = await plane.connect({ key: { name: "doc-1", tag: "v1" }, user: "bob" });
  assert.equal(again.spawned, false);
  assert.equal(again.backend_id, id);
  await rejectsWith(plane.connect({ key: { name: "doc-1", tag: "v2" } }), 409, "KeyHeld");
  await plane.revoke({ backendId: id, user: "alice" });

  const info = await plane.backend(id);
  assert.equal(info.status, "ready");
  assert.equal(info.drone, d.drone.name);
  assert.deepEqual(info.key, { name: "doc-1", namespace: "", tag: "v1" });
  const state = await plane.clusterState(CLUSTER);
  assert.deepEqual(state.drones.map((dr) => dr.node.name), [{ Drone: d.drone.name }]);
  assert.equal(state.drones[0]!.backend_count, 1);

  const tail = await collect(plane.logs(id, { follow: false }));
  assert.deepEqual(
    tail.map((l) => `${l.stream}:${l.text}`).sort(),
    ["stderr:stderr hello", `stdout:listening on ${info.address!.split(":")[1]}`],
  );

  // The follow stream and the status stream both end by themselves once terminated.
  const following = collect(plane.logs(id));
  const rest = collect(plane.statusStream(id, { lastEventId: "ready" }));
  await plane.terminate(id);
  assert.deepEqual((await rest).map((e) => e.status), ["terminating", "terminated"]);
  assert.equal((await following).length, 2);
  assert.equal((await plane.status(id)).termination_reason, "external");

  const hard = await plane.connect({ spawn_config: ECHO });
  await plane.waitReady(hard.backend_id, { timeoutSeconds: 20 });
  await plane.terminate(hard.backend_id, { hard: true });
  const end = (await collect(plane.statusStream(hard.backend_id))).at(-1);
  assert.equal(end?.status, "terminated");
  assert.equal(end?.termination_kind, "hard");

  const page = await plane.listBackends(CLUSTER, { limit: 1 });
  assert.equal(page.backends.length, 1);
  assert.ok(page.next_cursor);
  const next = await plane.listBackends(CLUSTER, { limit: 1, cursor: page.next_cursor });
  assert.deepEqual(
    [page.backends[0]!.id, next.backends[0]!.id].sort(),
    [id, hard.backend_id].sort(),
  );
  const terminated = await plane.listBackends(CLUSTER, { status: ["terminated"] });
  assert.equal(terminated.backends.length, 2);
  assert.equal((await plane.listBackends(CLUSTER, { status: "ready" })).backends.length, 0);
});

Deno.test("PlaneClient drain() and undrain() report whether anything changed", async () => {
  await using t = await startTestController({ defaultCluster: CLUSTER });
  await using d = await startTestDrone({ controllerUrl: t.url, cluster: CLUSTER });
  await waitForSchedulable(t.db, d.drone.name);
  const plane = createPlaneClient({ controllerUrl: t.url });
  assert.deepEqual(await plane.drain(CLUSTER, d.drone.name), { updated: true });
  assert.deepEqual(await plane.drain(CLUSTER, d.drone.name), { updated: false });
  assert.equal((await plane.clusterState(CLUSTER)).drones[0]!.draining, true);
  await rejectsWith(plane.connect({ spawn_config: ECHO }), 503, "NoDroneAvailable");
  assert.deepEqual(await plane.undrain(CLUSTER, d.drone.name), { updated: true });
  assert.deepEqual(await plane.undrain(CLUSTER, d.drone.name), { updated: false });
  await rejectsWith(plane.drain(CLUSTER, "dr-nosuchdrone"), 404, "NotFound");
});

Deno.test("PlaneClient errors carry the controller's status, kind, message and id", async () => {
  const key = "k".repeat(24);
  await using t = await startTestController({ apiKeys: [key] });
  const wrong = createPlaneClient({ controllerUrl: t.url, apiKey: "w".repeat(24) });
  await rejectsWith(wrong.clusterState(CLUSTER), 401, "Unauthorized");
  await rejectsWith(
    createPlaneClient({ controllerUrl: t.url }).controllerStatus(),
    401,
    "Unauthorized",
  );

  // The key rides as the URL's username (Plane's convention) or as an option.
  const viaUrl = createPlaneClient({ controllerUrl: t.url.replace("://", `://${key}@`) });
  assert.equal(viaUrl.controllerUrl, t.url);
  assert.deepEqual(await viaUrl.clusterState(CLUSTER), { drones: [], proxies: [] });
  const plane = createPlaneClient({ controllerUrl: t.url, apiKey: key });

  await rejectsWith(plane.status("nosuchbackend"), 404, "NotFound");
  await rejectsWith(wrong.status("nosuchbackend"), 404, "NotFound"); // public: no key needed
  await rejectsWith(plane.waitReady("nosuchbackend", { timeoutSeconds: 1 }), 404, "NotFound");
  await rejectsWith(plane.backend("nosuchbackend"), 404, "NotFound");
  await rejectsWith(plane.terminate("nosuchbackend"), 404, "NotFound");
  await rejectsWith(collect(plane.statusStream("nosuchbackend")), 404, "NotFound");
  await rejectsWith(collect(plane.logs("nosuchbackend")), 404, "NotFound");
  await rejectsWith(plane.connect({ key: { name: "k" } }), 409, "KeyUnheldNoSpawnConfig");
  await rejectsWith(plane.connect({ spawn_config: ECHO }), 400, "NoClusterProvided");
  await rejectsWith(plane.listBackends("bad cluster"), 400, "InvalidClusterName");
});

Deno.test("PlaneClient.statusStream() resumes a dropped connection with Last-Event-ID", async () => {
  await using t = await startTestController({ defaultCluster: CLUSTER });
  await using d = await startTestDrone({ controllerUrl: t.url, cluster: CLUSTER });
  await waitForSchedulable(t.db, d.drone.name);
  const port = Number(new URL(t.url).port);
  await using relay = startTcpRelay({ hostname: "127.0.0.1", port });
  const sent: (string | null)[] = [];
  const plane = createPlaneClient({
    controllerUrl: relay.url,
    reconnectDelayMs: 10,
    maxReconnectDelayMs: 100,
    fetch: (input, init) => {
      if (String(input).endsWith("/status-stream")) {
        sent.push(new Headers(init?.headers).get("last-event-id"));
      }
      return fetch(input, init);
    },
  });
  // Requests other than the stream go around the relay, whose pooled connections die with it.
  const direct = createPlaneClient({ controllerUrl: t.url });
  const { backend_id: id } = await direct.connect({ spawn_config: ECHO });
  const stream = plane.statusStream(id)[Symbol.asyncIterator]();
  const seen: BackendStatusStreamEntry[] = [];
  while (seen.at(-1)?.status !== "ready") seen.push((await stream.next()).value!);

  relay.cut();
  relay.restore();
  await direct.terminate(id);
  for (let r = await stream.next(); !r.done; r = await stream.next()) seen.push(r.value);

  assert.deepEqual(seen.map((e) => e.status), [
    "scheduled",
    "loading",
    "starting",
    "waiting",
    "ready",
    "terminating",
    "terminated",
  ]);
  assert.equal(sent[0], null);
  assert.ok(sent.length >= 2, `reconnected (${sent.length} requests)`);
  assert.deepEqual(sent.slice(1), sent.slice(1).map(() => "ready"));
});
