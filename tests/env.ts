/**
 * Multi-component fixtures: a real drone (local-process runtime, SQLite state) connected to a
 * test controller, and an SSE reader for the status stream.
 */
import { createDrone, type Drone } from "../drone/mod.ts";
import { StateStore } from "../drone/state_store.ts";
import { LocalProcessExecutor } from "../drone/executor/local_process.ts";
import type { Executor } from "../drone/executor/executor.ts";
import type { Clock } from "../drone/clock.ts";
import { createLogger, type LogLevel } from "../shared/log.ts";
import { waitFor } from "../testing/wait_for.ts";

export const ECHO_BACKEND = new URL("../drone/executor/testdata/echo_backend.ts", import.meta.url)
  .pathname;

export function echoExecutor(options: { softGraceMs?: number } = {}): LocalProcessExecutor {
  return new LocalProcessExecutor({
    images: {
      echo: { command: [Deno.execPath(), "run", "--allow-net", "--allow-env", ECHO_BACKEND] },
      // Listens on nothing: never becomes ready.
      silent: { command: ["sleep", "600"] },
    },
    softGraceMs: options.softGraceMs ?? 5_000,
    startupTimeoutMs: 3_000,
  });
}

export interface TestDrone extends AsyncDisposable {
  drone: Drone;
  executor: Executor;
  store: StateStore;
  /** Stops the drone's loop (its backends keep running, as in Plane). */
  stop(): Promise<void>;
}

export async function startTestDrone(options: {
  controllerUrl: string;
  cluster: string;
  pool?: string;
  executor?: Executor;
  storePath?: string;
  clock?: Clock;
  name?: string;
}): Promise<TestDrone> {
  const level = (Deno.env.get("PLANE_TEST_LOG") as LogLevel | undefined) ?? "error";
  const log = createLogger("drone", { level });
  const executor = options.executor ?? echoExecutor();
  const store = new StateStore(options.storePath ?? ":memory:");
  const drone = createDrone({
    executor,
    store,
    log,
    ...(options.clock ? { clock: options.clock } : {}),
    link: {
      name: options.name,
      controllerUrl: options.controllerUrl,
      cluster: options.cluster,
      pool: options.pool ?? "",
      heartbeatMs: 200,
      metricsMs: 200,
      backoffInitialMs: 50,
      backoffMaxMs: 500,
    },
  });
  const abort = new AbortController();
  const running = drone.run(abort.signal);
  await waitFor(() => drone.status.connected, { message: "drone connected" });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    abort.abort();
    await running;
  };
  return {
    drone,
    executor,
    store,
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
      await executor.close();
      store.close();
    },
  };
}

/** Reads an SSE response's `data:` entries as they arrive. */
export async function* sseEntries(response: Response): AsyncGenerator<Record<string, unknown>> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of response.body!) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of block.split("\n")) {
        if (line.startsWith("data:")) yield JSON.parse(line.slice(5).trim());
      }
    }
  }
}

/** Collects statuses from the status stream until `until` (inclusive) or the stream ends. */
export async function collectStatuses(
  controllerUrl: string,
  backendId: string,
  until: string,
): Promise<Record<string, unknown>[]> {
  const response = await fetch(`${controllerUrl}/pub/b/${backendId}/status-stream`);
  if (!response.ok) throw new Error(`status-stream answered ${response.status}`);
  const entries: Record<string, unknown>[] = [];
  for await (const entry of sseEntries(response)) {
    entries.push(entry);
    if (entry.status === until) break;
  }
  await response.body?.cancel().catch(() => {});
  return entries;
}

/** Waits until the controller can schedule on drone `name`: connected and heartbeated. */
export async function waitForSchedulable(
  db: { query<R>(text: string, values?: readonly unknown[]): Promise<{ rows: R[] }> },
  name: string,
): Promise<void> {
  await waitFor(async () => {
    const { rows } = await db.query<{ ok: boolean }>(
      `select true as ok from node join drone on drone.id = node.id
       where node.name = $1 and node.controller is not null and drone.last_local_time is not null`,
      [name],
    );
    return rows.length === 1;
  }, { message: `drone ${name} schedulable` });
}

/**
 * Starts `tests/fixtures/run_drone.ts` as its own process (so a test can SIGKILL it), with its
 * state (SQLite and pid files) in `stateDir`; starting again with the same `name` and `stateDir`
 * is a restart of the same drone.
 */
export function spawnDroneProcess(
  controllerUrl: string,
  cluster: string,
  name: string,
  stateDir: string,
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./fixtures/run_drone.ts", import.meta.url).pathname,
      controllerUrl,
      cluster,
      name,
      stateDir,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/**
 * Pids of running processes whose environment names one of `backendIds`: how a test (which has
 * `-A`, unlike the drone) checks that no backend process survived.
 */
export async function backendProcesses(backendIds: Set<string>): Promise<number[]> {
  const found: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    let environ: string;
    try {
      environ = await Deno.readTextFile(`/proc/${entry.name}/environ`);
    } catch {
      continue; // Gone, or not ours to read.
    }
    for (const variable of environ.split("\0")) {
      if (
        variable.startsWith("SESSION_BACKEND_ID=") &&
        backendIds.has(variable.slice("SESSION_BACKEND_ID=".length))
      ) {
        found.push(Number(entry.name));
      }
    }
  }
  return found;
}
