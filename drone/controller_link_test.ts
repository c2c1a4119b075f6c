/**
 * Unit tests of the drone's controller link (plane-0.5.md §1.3, §6.4) against a stand-in
 * controller: an in-process WebSocket server on loopback that records what the drone sends
 * and answers as the test says. The drone side is the real core on the in-memory fakes.
 */
import assert from "node:assert/strict";
import { type LinkStatus, runControllerLink } from "./controller_link.ts";
import { DroneCore } from "./drone.ts";
import { FakeExecutor } from "./executor/fake.ts";
import { StateStore } from "./state_store.ts";
import { FakeClock } from "./clock.ts";
import { silentLogger } from "../shared/log.ts";
import { waitFor } from "../testing/wait_for.ts";
import { randomActionName, randomBackendName, randomDroneName } from "../shared/names.ts";
import {
  type BackendActionMessage,
  type Handshake,
  type MessageFromDrone,
  type MessageToDrone,
  PLANE_HASH,
  PLANE_VERSION,
} from "../shared/protocol.ts";

const START = 1_700_000_000_000;

interface PeerSocket {
  url: URL;
  authorization: string | null;
  handshake: Handshake | null;
  received: MessageFromDrone[];
  send(message: MessageToDrone): void;
  close(code?: number, reason?: string): void;
}

/** A controller that answers each drone handshake, unless `refuse` says to close instead. */
function fakeController(options: { refuse?: (connection: number) => boolean } = {}) {
  const sockets: PeerSocket[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    // Read before the upgrade, which consumes the request.
    const url = new URL(req.url);
    const authorization = req.headers.get("authorization");
    const { socket, response } = Deno.upgradeWebSocket(req);
    const index = sockets.length;
    const peer: PeerSocket = {
      url,
      authorization,
      handshake: null,
      received: [],
      send: (message) => socket.send(JSON.stringify(message)),
      close: (code, reason) => socket.close(code, reason),
    };
    sockets.push(peer);
    socket.onmessage = (event) => {
      const message = JSON.parse(String(event.data));
      if (peer.handshake) return void peer.received.push(message);
      peer.handshake = message;
      if (options.refuse?.(index)) return socket.close(1008, "Name in use");
      socket.send(JSON.stringify({
        version: { version: PLANE_VERSION, "git_hash": PLANE_HASH },
        name: "co-test",
      }));
    };
    return response;
  });
  return { server, sockets, url: `http://127.0.0.1:${server.addr.port}` };
}

function setup(controllerOptions: Parameters<typeof fakeController>[0] = {}) {
  const controller = fakeController(controllerOptions);
  const executor = new FakeExecutor();
  const store = new StateStore(":memory:");
  const clock = new FakeClock(START);
  const log = silentLogger();
  const core = new DroneCore({ executor, store, clock, log });
  const abort = new AbortController();
  const status: LinkStatus = { connected: false, connections: 0 };
  const name = randomDroneName();
  const running = runControllerLink(core, {
    controllerUrl: controller.url,
    cluster: "plane.test",
    pool: "gpu pool",
    name,
    secret: "s3cret",
    heartbeatMs: 20,
    backoffInitialMs: 5,
    backoffMaxMs: 20,
  }, { log, clock, signal: abort.signal, status });
  /** The `n`th (1-based) handshaken connection. */
  const connection = (n: number) =>
    waitFor(() => {
      const live = controller.sockets.filter((s) => s.handshake !== null);
      return status.connections >= n ? live[live.length - 1] : undefined;
    }, { timeoutMs: 3_000, message: `connection ${n}` });
  return {
    controller,
    store,
    clock,
    core,
    status,
    name,
    connection,
    abort,
    async [Symbol.asyncDispose]() {
      abort.abort();
      await running;
      core.close();
      await executor.close();
      store.close();
      await controller.server.shutdown();
    },
  };
}

function ofKind<K extends string>(peer: PeerSocket, kind: K) {
  return peer.received.filter((m) => kind in m) as Extract<MessageFromDrone, Record<K, unknown>>[];
}

function spawnAction(): BackendActionMessage {
  return {
    "action_id": randomActionName(),
    "backend_id": randomBackendName(),
    "drone_id": 1,
    action: {
      Spawn: {
        executable: { image: "fake" },
        key: {
          key: { name: "k", namespace: "", tag: "" },
          deadlines: {
            "renew_at": START + 30_000,
            "soft_terminate_at": START + 40_000,
            "hard_terminate_at": START + 50_000,
          },
          token: 1,
        },
        "static_token": null,
      },
    },
  };
}

Deno.test("controller link: handshake with name, version, bearer and pool; a heartbeat at once on the drone clock, then periodically", async () => {
  await using t = setup();
  const peer = await t.connection(1);
  assert.equal(peer.url.pathname, "/ctrl/c/plane.test/drone-socket");
  assert.equal(peer.url.searchParams.get("pool"), "gpu pool");
  assert.equal(peer.authorization, "Bearer s3cret");
  assert.deepEqual(peer.handshake, {
    version: { version: PLANE_VERSION, "git_hash": PLANE_HASH },
    name: t.name,
  });
  await waitFor(() => ofKind(peer, "Heartbeat").length >= 3, { timeoutMs: 2_000 });
  assert.deepEqual(peer.received[0], { Heartbeat: { "local_time": START } });
  assert.equal(t.status.connected, true);
});

Deno.test("controller link replays the outbox on connect and drops the events the controller acks", async () => {
  await using t = setup();
  const id = randomBackendName();
  const eventId = t.store.registerEvent(id, { status: "scheduled" }, START);
  const peer = await t.connection(1);
  const event = await waitFor(() => ofKind(peer, "BackendEvent")[0], { timeoutMs: 2_000 });
  assert.deepEqual(event.BackendEvent, {
    "event_id": eventId,
    "backend_id": id,
    state: { status: "scheduled" },
    timestamp: START,
  });
  peer.send({ AckEvent: { "event_id": eventId } });
  await waitFor(() => t.store.unackedEvents().length === 0, { timeoutMs: 2_000 });
});

Deno.test("controller link acks an action once applied, and not a repeated Spawn", async () => {
  await using t = setup();
  const peer = await t.connection(1);
  const spawn = spawnAction();
  peer.send({ Action: spawn });
  await waitFor(() => ofKind(peer, "AckAction").length === 1, { timeoutMs: 2_000 });
  assert.deepEqual(ofKind(peer, "AckAction")[0], { AckAction: { "action_id": spawn.action_id } });
  // The resend of an action already applied, then an unrelated one: once that one is acked,
  // the repeat had its turn (actions are applied as they arrive).
  peer.send({ Action: spawn });
  const other = { ...spawnAction(), "action_id": randomActionName() };
  peer.send({ Action: other });
  await waitFor(() => ofKind(peer, "AckAction").length === 2, { timeoutMs: 2_000 });
  assert.deepEqual(ofKind(peer, "AckAction").map((m) => m.AckAction.action_id), [
    spawn.action_id,
    other.action_id,
  ]);
  await waitFor(() => t.core.backendState(spawn.backend_id)?.status === "ready", {
    timeoutMs: 3_000,
  });
});

Deno.test("controller link sends RenewKey when the key is due and applies the controller's new deadlines", async () => {
  await using t = setup();
  const peer = await t.connection(1);
  const spawn = spawnAction();
  peer.send({ Action: spawn });
  await waitFor(() => t.core.keys.has(spawn.backend_id), { timeoutMs: 2_000 });
  t.clock.advance(30_000);
  const renew = await waitFor(() => ofKind(peer, "RenewKey")[0], { timeoutMs: 2_000 });
  assert.deepEqual(renew.RenewKey, { backend: spawn.backend_id, "local_time": START + 30_000 });
  peer.send({
    RenewKeyResponse: {
      backend: spawn.backend_id,
      deadlines: {
        "renew_at": START + 60_000,
        "soft_terminate_at": START + 70_000,
        "hard_terminate_at": START + 80_000,
      },
    },
  });
  // Applied: the renew is rescheduled, so passing the old soft deadline does nothing.
  await waitFor(() => {
    t.clock.advance(0);
    return t.clock.pendingTimers === 3 && ofKind(peer, "RenewKey").length === 1;
  }, { timeoutMs: 2_000 });
  t.clock.advance(15_000);
  assert.notEqual(t.core.backendState(spawn.backend_id)?.status, "terminating");
  t.clock.advance(15_000);
  await waitFor(() => ofKind(peer, "RenewKey").length === 2, { timeoutMs: 2_000 });
});

Deno.test("controller link reconnects after a refusal and after the controller drops it, replaying what is unacked", async () => {
  await using t = setup({ refuse: (n) => n === 0 });
  const id = randomBackendName();
  t.store.registerEvent(id, { status: "scheduled" }, START);
  const first = await t.connection(1);
  assert.equal(t.controller.sockets.length, 2, "the refused socket was retried");
  await waitFor(() => ofKind(first, "BackendEvent").length === 1, { timeoutMs: 2_000 });
  first.close(1011, "Controller restarting");
  const second = await t.connection(2);
  assert.notEqual(second, first);
  assert.deepEqual(second.received[0], { Heartbeat: { "local_time": START } });
  await waitFor(() => ofKind(second, "BackendEvent").length === 1, { timeoutMs: 2_000 });
  assert.deepEqual(ofKind(second, "BackendEvent"), ofKind(first, "BackendEvent"));
  assert.equal(t.status.connections, 2);

  t.abort.abort();
  await waitFor(() => !t.status.connected, { timeoutMs: 2_000 });
});
