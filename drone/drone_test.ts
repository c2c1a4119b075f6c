/**
 * Unit tests of the drone's core (plane-0.5.md §6.4) without subprocesses or a controller: the
 * in-memory `FakeExecutor`, an in-memory state store, a `FakeClock` for key deadlines, and a
 * recording stand-in for the controller link.
 */
import assert from "node:assert/strict";
import { DroneCore, type DroneLinkPort } from "./drone.ts";
import { FakeExecutor } from "./executor/fake.ts";
import type { SpawnRequest } from "./executor/executor.ts";
import { StateStore } from "./state_store.ts";
import { FakeClock } from "./clock.ts";
import { silentLogger } from "../shared/log.ts";
import { waitFor } from "../testing/wait_for.ts";
import { type BackendName, randomActionName, randomBackendName } from "../shared/names.ts";
import type { BackendState } from "../shared/backend_state.ts";
import type {
  BackendActionMessage,
  BackendStateMessage,
  KeyDeadlines,
} from "../shared/protocol.ts";

const START = 1_700_000_000_000;

/** Records what the core asks of the runtime. */
class RecordingExecutor extends FakeExecutor {
  readonly spawned: BackendName[] = [];
  readonly terminated: { id: BackendName; hard: boolean }[] = [];

  override spawn(request: SpawnRequest): Promise<{ address: string }> {
    this.spawned.push(request.backendId);
    return super.spawn(request);
  }

  override terminate(backendId: BackendName, options: { hard: boolean }): Promise<boolean> {
    this.terminated.push({ id: backendId, hard: options.hard });
    return super.terminate(backendId, options);
  }
}

/** A controller connection as the core sees it: every call recorded. */
function recordingLink() {
  const renewals: { id: BackendName; localTime: number }[] = [];
  const events: BackendStateMessage[] = [];
  const port: DroneLinkPort = {
    renewKey: (id, localTime) => (renewals.push({ id, localTime }), true),
    metrics: () => true,
    logs: () => true,
  };
  return { port, renewals, events, send: (m: BackendStateMessage) => void events.push(m) };
}

function setup() {
  const executor = new RecordingExecutor();
  const store = new StateStore(":memory:");
  const clock = new FakeClock(START);
  const core = new DroneCore({ executor, store, clock, log: silentLogger() });
  const link = recordingLink();
  core.attach(link.port, link.send);
  return {
    executor,
    store,
    clock,
    core,
    link,
    async [Symbol.asyncDispose]() {
      core.close();
      await executor.close();
      store.close();
    },
  };
}

function deadlines(from: number): KeyDeadlines {
  return {
    "renew_at": from + 30_000,
    "soft_terminate_at": from + 40_000,
    "hard_terminate_at": from + 50_000,
  };
}

function spawnAction(
  backendId: BackendName,
  keyDeadlines = deadlines(START),
): BackendActionMessage {
  return {
    "action_id": randomActionName(),
    "backend_id": backendId,
    "drone_id": 1,
    action: {
      Spawn: {
        executable: { image: "fake" },
        key: { key: { name: "k", namespace: "", tag: "" }, deadlines: keyDeadlines, token: 1 },
        "static_token": null,
      },
    },
  };
}

function terminateAction(
  backendId: BackendName,
  kind: "soft" | "hard",
  reason: "external" | "swept" = "external",
): BackendActionMessage {
  return {
    "action_id": randomActionName(),
    "backend_id": backendId,
    "drone_id": 1,
    action: { Terminate: { kind, reason } },
  };
}

function statesOf(events: BackendStateMessage[], id: BackendName): BackendState[] {
  return events.filter((e) => e.backend_id === id).map((e) => e.state);
}

async function untilStatus(events: BackendStateMessage[], id: BackendName, status: string) {
  return await waitFor(
    () => statesOf(events, id).find((s) => s.status === status),
    { timeoutMs: 3_000, message: `${id} to be ${status}` },
  );
}

Deno.test("DroneCore runs a Spawn to ready and a soft Terminate to terminated (143), reporting each state", async () => {
  await using t = setup();
  const id = randomBackendName();
  assert.equal(await t.core.applyAction(spawnAction(id)), "applied");
  await untilStatus(t.link.events, id, "ready");
  assert.deepEqual(statesOf(t.link.events, id).map((s) => s.status), [
    "scheduled",
    "loading",
    "starting",
    "waiting",
    "ready",
  ]);
  assert.equal(t.core.liveBackends, 1);

  assert.equal(await t.core.applyAction(terminateAction(id, "soft")), "applied");
  const end = await untilStatus(t.link.events, id, "terminated");
  assert.deepEqual(statesOf(t.link.events, id).at(-2), {
    status: "terminating",
    "last_status": "ready",
    termination: "soft",
    reason: "external",
  });
  assert.deepEqual(end, {
    status: "terminated",
    "last_status": "ready",
    termination: "soft",
    reason: "external",
    "exit_code": 143,
  });
  assert.deepEqual(t.executor.terminated, [{ id, hard: false }]);
  assert.equal(t.core.liveBackends, 0);
  assert.equal(t.core.keys.has(id), false, "the key is forgotten once terminated");
  // Each event went through the outbox with the drone clock's time.
  assert.ok(t.link.events.every((e) => e.timestamp === START));
});

Deno.test("DroneCore hard Terminate kills with SIGKILL's code and keeps the reason", async () => {
  await using t = setup();
  const id = randomBackendName();
  await t.core.applyAction(spawnAction(id));
  await untilStatus(t.link.events, id, "ready");
  await t.core.applyAction(terminateAction(id, "hard", "swept"));
  const end = await untilStatus(t.link.events, id, "terminated");
  assert.deepEqual(end, {
    status: "terminated",
    "last_status": "ready",
    termination: "hard",
    reason: "swept",
    "exit_code": 137,
  });
  assert.deepEqual(t.executor.terminated, [{ id, hard: true }]);
});

Deno.test("DroneCore reports a backend that exits by itself with its exit code as an error", async () => {
  await using t = setup();
  const id = randomBackendName();
  await t.core.applyAction(spawnAction(id));
  const ready = await untilStatus(t.link.events, id, "ready");
  assert.equal(ready.status, "ready");
  if (ready.status !== "ready") return;
  await (await fetch(`http://${ready.address}/exit?code=3`)).body?.cancel();
  const end = await untilStatus(t.link.events, id, "terminated");
  assert.deepEqual(end, {
    status: "terminated",
    "last_status": "ready",
    termination: null,
    reason: null,
    "exit_code": 3,
    error: "exited with code 3",
  });
});

Deno.test("DroneCore ignores a repeated Spawn (not acked, not spawned again)", async () => {
  await using t = setup();
  const id = randomBackendName();
  const spawn = spawnAction(id);
  assert.equal(await t.core.applyAction(spawn), "applied");
  await untilStatus(t.link.events, id, "ready");
  const before = t.link.events.length;
  assert.equal(await t.core.applyAction(spawn), "ignored");
  assert.equal(await t.core.applyAction({ ...spawn, "action_id": randomActionName() }), "ignored");
  assert.deepEqual(t.executor.spawned, [id]);
  assert.equal(t.link.events.length, before, "no state event for a repeat");
});

Deno.test("DroneCore: a Terminate that arrives before the Spawn started wins; nothing is spawned", async () => {
  await using t = setup();
  const id = randomBackendName();
  // Both before the deferred start runs (the Spawn is acked before the runtime's work).
  assert.equal(await t.core.applyAction(spawnAction(id)), "applied");
  assert.equal(await t.core.applyAction(terminateAction(id, "hard")), "applied");
  await untilStatus(t.link.events, id, "terminated");
  // One macrotask: the deferred start (queued first) has had its turn.
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(statesOf(t.link.events, id), [
    { status: "hard-terminating", "last_status": "scheduled", reason: "external" },
    {
      status: "terminated",
      "last_status": "scheduled",
      termination: "hard",
      reason: "external",
      "exit_code": null,
    },
  ]);
  assert.deepEqual(t.executor.spawned, []);
  assert.equal(t.core.liveBackends, 0);
});

Deno.test("DroneCore: a Terminate for a backend it does not know kills to be safe and reports it lost", async () => {
  await using t = setup();
  const id = randomBackendName();
  assert.equal(await t.core.applyAction(terminateAction(id, "soft")), "applied");
  assert.deepEqual(t.executor.terminated, [{ id, hard: true }]);
  assert.deepEqual(statesOf(t.link.events, id), [{
    status: "terminated",
    "last_status": "ready",
    termination: null,
    reason: "lost",
    "exit_code": null,
    error: "the drone was asked to terminate this backend but did not know it",
  }]);
});

Deno.test("DroneCore replays unacked events to the next connection, not acked ones, a window at a time", async () => {
  await using t = setup();
  const id = randomBackendName();
  await t.core.applyAction(spawnAction(id));
  await untilStatus(t.link.events, id, "ready");
  const first = t.link.events.map((e) => e.event_id);
  assert.equal(first.length, 5);
  // Two acked on the first connection; it drops before the rest are.
  t.core.ackEvent(first[0]!);
  t.core.ackEvent(first[1]!);
  t.core.detach();
  // What happens while no controller is connected is kept for the next one.
  await t.core.applyAction(terminateAction(id, "hard"));
  await waitFor(() => t.store.backendState(id)?.status === "terminated", { timeoutMs: 3_000 });

  const second = recordingLink();
  t.core.attach(second.port, second.send);
  const replayed = second.events.map((e) => e.event_id);
  assert.deepEqual(replayed.slice(0, 3), first.slice(2));
  assert.deepEqual(second.events.map((e) => e.state.status), [
    "starting",
    "waiting",
    "ready",
    "hard-terminating",
    "terminated",
  ]);
  for (const eventId of replayed) t.core.ackEvent(eventId);
  t.core.detach();

  // A backlog larger than the window: 100 in flight, one more per ack (issue 11, finding 1).
  for (let i = 0; i < 120; i++) t.store.registerEvent(id, { status: "loading" }, START + i);
  const third = recordingLink();
  t.core.attach(third.port, third.send);
  assert.equal(
    third.events.length,
    100,
    "acked events are not replayed; the rest a window at once",
  );
  t.core.ackEvent(third.events[0]!.event_id);
  assert.equal(third.events.length, 101);
});

Deno.test("DroneCore asks to renew a key at renew_at on its clock and soft-terminates at the deadline without an answer", async () => {
  await using t = setup();
  const id = randomBackendName();
  await t.core.applyAction(spawnAction(id));
  await untilStatus(t.link.events, id, "ready");
  t.clock.advance(29_999);
  assert.deepEqual(t.link.renewals, []);
  t.clock.advance(1);
  assert.deepEqual(t.link.renewals, [{ id, localTime: START + 30_000 }]);

  // Renewed: the old soft deadline passes without effect.
  t.core.keyRenewed(id, deadlines(START + 30_000));
  t.clock.advance(15_000);
  assert.equal(t.core.backendState(id)?.status, "ready");

  // A refusal changes nothing; the new soft deadline then ends the backend (plane-0.5.md §5.5).
  t.core.keyRenewed(id, null);
  t.clock.advance(25_000);
  assert.equal(t.link.renewals.length, 2);
  const end = await untilStatus(t.link.events, id, "terminated");
  assert.equal(end.status === "terminated" && end.reason, "keyexpired");
  assert.equal(end.status === "terminated" && end.termination, "soft");
});

Deno.test("DroneCore asks again for a due renewal on a new connection (plane-0.5.md §5.5 step 6)", async () => {
  await using t = setup();
  const id = randomBackendName();
  await t.core.applyAction(spawnAction(id));
  await untilStatus(t.link.events, id, "ready");
  t.core.detach();
  t.clock.advance(31_000);
  assert.deepEqual(t.link.renewals, [], "no connection: nothing sent on the old one");
  const second = recordingLink();
  t.core.attach(second.port, second.send);
  t.clock.advance(0);
  assert.deepEqual(second.renewals, [{ id, localTime: START + 31_000 }]);
});

Deno.test("DroneCore's start-up sweep hard-kills every backend the store lists as live and records it terminated", async () => {
  await using t = setup();
  t.core.detach();
  const left = randomBackendName();
  const ended = randomBackendName();
  t.store.registerEvent(left, { status: "ready", address: "127.0.0.1:1" }, START - 10);
  t.store.registerEvent(ended, {
    status: "terminated",
    "last_status": "ready",
    termination: null,
    reason: null,
    "exit_code": 0,
  }, START - 5);

  assert.deepEqual(await t.core.sweepLeftovers(), [left]);
  assert.deepEqual(t.executor.terminated, [{ id: left, hard: true }]);
  assert.deepEqual(t.store.activeBackends(), []);
  const states = t.store.unackedEvents().filter((e) => e.backend_id === left).map((e) => e.state);
  assert.deepEqual(states.slice(1), [
    { status: "hard-terminating", "last_status": "ready", reason: "keyexpired" },
    {
      status: "terminated",
      "last_status": "ready",
      termination: "hard",
      reason: "keyexpired",
      "exit_code": null,
      error: "the drone restarted and killed this backend, left running by its previous run",
    },
  ]);
});
