/**
 * Unit tests of the effect runner around the pure lifecycle (plane-0.5.md §4.4): which
 * executor step each state starts, what each step's outcome records, and that a transition
 * cancels the step in flight. The executor is scripted: each call waits until the test settles it.
 */
import assert from "node:assert/strict";
import { BackendManager } from "./backend_manager.ts";
import type { Executor, ReadyResult, SpawnRequest } from "./executor/executor.ts";
import type { BackendState } from "../shared/backend_state.ts";
import { type BackendName, randomBackendName } from "../shared/names.ts";
import { silentLogger } from "../shared/log.ts";
import { waitFor } from "../testing/wait_for.ts";

interface Call {
  kind: "prepare" | "spawn" | "waitForReady" | "terminate";
  hard?: boolean;
  signal: AbortSignal | undefined;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

/** An executor whose every step stays pending until the test resolves or rejects it. */
class ScriptedExecutor implements Executor {
  readonly calls: Call[] = [];

  #call<T>(kind: Call["kind"], signal?: AbortSignal, hard?: boolean): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const call: Call = { kind, signal, resolve: (v) => resolve(v as T), reject };
      if (hard !== undefined) call.hard = hard;
      this.calls.push(call);
    });
  }

  prepare(_e: unknown, options?: { signal?: AbortSignal }) {
    return this.#call<void>("prepare", options?.signal);
  }
  spawn(_r: SpawnRequest, options?: { signal?: AbortSignal }) {
    return this.#call<{ address: string }>("spawn", options?.signal);
  }
  waitForReady(_id: BackendName, _a: string, options?: { signal?: AbortSignal }) {
    return this.#call<ReadyResult>("waitForReady", options?.signal);
  }
  terminate(_id: BackendName, { hard }: { hard: boolean }) {
    return this.#call<boolean>("terminate", undefined, hard);
  }
  onExit() {}
  onLog() {}
  logs() {
    return [];
  }
  metrics() {
    return Promise.resolve(null);
  }
  close() {
    return Promise.resolve();
  }

  /** The latest call, once it was made. */
  async last(kind: Call["kind"], count = 1): Promise<Call> {
    return await waitFor(() => {
      const calls = this.calls.filter((c) => c.kind === kind);
      return calls.length >= count ? calls[count - 1] : undefined;
    }, { timeoutMs: 2_000, message: `${kind} call #${count}` });
  }
}

function setup() {
  const executor = new ScriptedExecutor();
  const states: BackendState[] = [];
  const id = randomBackendName();
  const manager = new BackendManager({
    backendId: id,
    executable: { image: "x" },
    key: {
      key: { name: "k", namespace: "", tag: "" },
      deadlines: { "renew_at": 0, "soft_terminate_at": 0, "hard_terminate_at": 0 },
      token: 1,
    },
    staticToken: null,
  }, {
    executor,
    log: silentLogger(),
    record: (backendId, state) => {
      assert.equal(backendId, id);
      states.push(state);
    },
  });
  const statuses = () => states.map((s) => s.status);
  const until = (n: number) =>
    waitFor(() => states.length >= n, { timeoutMs: 2_000, message: `${n} states` });
  return { executor, states, statuses, until, manager };
}

/** Drives a fresh manager to `ready` at 127.0.0.1:9. */
async function readyManager() {
  const t = setup();
  t.manager.start();
  (await t.executor.last("prepare")).resolve(undefined);
  (await t.executor.last("spawn")).resolve({ address: "127.0.0.1:9" });
  (await t.executor.last("waitForReady")).resolve("ready");
  await t.until(5);
  return t;
}

Deno.test("BackendManager runs prepare, spawn and the readiness wait, recording scheduled → … → ready", async () => {
  const t = await readyManager();
  assert.deepEqual(t.statuses(), ["scheduled", "loading", "starting", "waiting", "ready"]);
  assert.deepEqual(t.states.at(-1), { status: "ready", address: "127.0.0.1:9" });
  assert.deepEqual(t.executor.calls.map((c) => c.kind), ["prepare", "spawn", "waitForReady"]);
});

Deno.test("BackendManager: a terminate cancels the step in flight and its late result is ignored", async () => {
  const t = setup();
  t.manager.start();
  const prepare = await t.executor.last("prepare");
  t.manager.terminate("hard", "external");
  assert.equal(prepare.signal?.aborted, true, "the prepare step is aborted");
  const terminate = await t.executor.last("terminate");
  assert.equal(terminate.hard, true);
  // The pull finishes anyway: it must not move the backend on to `starting`.
  prepare.resolve(undefined);
  terminate.resolve(true);
  // One macrotask: every promise callback of both results has run.
  await new Promise((resolve) => setTimeout(resolve, 0));
  t.manager.exited(137);
  await t.manager.done;
  assert.deepEqual(t.states.slice(2), [
    { status: "hard-terminating", "last_status": "loading", reason: "external" },
    {
      status: "terminated",
      "last_status": "loading",
      termination: "hard",
      reason: "external",
      "exit_code": 137,
    },
  ]);
  assert.deepEqual(t.executor.calls.map((c) => c.kind), ["prepare", "terminate"]);
});

Deno.test("BackendManager ends a failed prepare or spawn as internalerror with the error's message", async () => {
  for (const failing of ["prepare", "spawn"] as const) {
    const t = setup();
    t.manager.start();
    if (failing === "spawn") (await t.executor.last("prepare")).resolve(undefined);
    (await t.executor.last(failing)).reject(new TypeError(`${failing} refused`));
    await t.manager.done;
    assert.deepEqual(t.states.at(-1), {
      status: "terminated",
      "last_status": failing === "prepare" ? "loading" : "starting",
      termination: null,
      reason: "internalerror",
      "exit_code": null,
      error: `${failing} refused`,
    });
  }
});

Deno.test("BackendManager hard-terminates a backend that never answers (startuptimeout) and ends it when it is gone", async () => {
  const t = setup();
  t.manager.start();
  (await t.executor.last("prepare")).resolve(undefined);
  (await t.executor.last("spawn")).resolve({ address: "127.0.0.1:9" });
  (await t.executor.last("waitForReady")).resolve("timeout");
  const terminate = await t.executor.last("terminate");
  assert.equal(terminate.hard, true);
  terminate.resolve(false); // Already gone: no exit event will follow.
  await t.manager.done;
  const error = "did not answer HTTP on its port within the drone's --startup-timeout-seconds";
  assert.deepEqual(t.states.slice(-2), [
    { status: "hard-terminating", "last_status": "waiting", reason: "startuptimeout", error },
    {
      status: "terminated",
      "last_status": "waiting",
      termination: "hard",
      reason: "startuptimeout",
      "exit_code": null,
      error,
    },
  ]);
});

Deno.test("BackendManager: soft asks for SIGTERM once, a repeat is ignored, hard upgrades keeping last_status", async () => {
  const t = await readyManager();
  t.manager.terminate("soft", "external");
  const soft = await t.executor.last("terminate");
  assert.equal(soft.hard, false);
  t.manager.terminate("soft", "keyexpired");
  assert.equal(t.states.length, 6, "a repeated soft terminate records nothing");
  t.manager.terminate("hard", "keyexpired");
  const hard = await t.executor.last("terminate", 2);
  assert.equal(hard.hard, true);
  hard.resolve(true);
  t.manager.exited(137);
  t.manager.exited(137);
  await t.manager.done;
  assert.deepEqual(t.states.slice(5), [
    { status: "terminating", "last_status": "ready", termination: "soft", reason: "external" },
    { status: "hard-terminating", "last_status": "ready", reason: "keyexpired" },
    {
      status: "terminated",
      "last_status": "ready",
      termination: "hard",
      reason: "keyexpired",
      "exit_code": 137,
    },
  ]);
});
