/**
 * The product as users run it: `plane controller|drone|proxy` (cli/main.ts) as subprocesses with
 * exactly the permissions of `deno task plane` in deno.json, never `--allow-all`, so a test
 * fails where a user's process would (a permission an executor needs, a flag that does not
 * parse). Each role's JSON log lines are kept for assertions.
 */
import { ECHO_BACKEND } from "./env.ts";
import { createTestDatabase, type TestDatabase } from "../controller/db/test_database.ts";
import { waitFor } from "../testing/wait_for.ts";
import { parsePidFile } from "../drone/executor/process_identity.ts";
import { freePort } from "../testing/free_port.ts";

const MAIN = new URL("../cli/main.ts", import.meta.url).pathname;
const DENO_JSON = new URL("../deno.json", import.meta.url);

/**
 * The `--allow-*` flags of deno.json's `plane` task, its `--unstable-*` ones (`--unstable-net`
 * lets proxy workers share a port) and its `--v8-flags=` (the heap sizing of issue 11): what a
 * user's `deno task plane` gets. `denoJson` reads another checkout's (a bench's before/after).
 */
export function planePermissions(denoJson: URL = DENO_JSON): string[] {
  const config = JSON.parse(Deno.readTextFileSync(denoJson));
  const task: string = config.tasks.plane;
  const flags = task.split(/\s+/).filter((word) =>
    word.startsWith("--allow-") || word.startsWith("--unstable-") || word.startsWith("--v8-flags=")
  );
  if (flags.length === 0 || flags.includes("--allow-all") || flags.includes("-A")) {
    throw new Error(`deno.json's plane task should list narrow permissions, got: ${task}`);
  }
  return flags;
}

export interface PlaneRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `plane ARGS` to completion as a user's `deno task plane` would (deno.json's permissions),
 * without colour, with `env` added (e.g. `PLANE_CONTROLLER_URL`).
 */
export async function runPlane(
  args: string[],
  env: Record<string, string> = {},
): Promise<PlaneRun> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", ...planePermissions(), MAIN, ...args],
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...env },
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

export interface PlaneProcess extends AsyncDisposable {
  role: string;
  child: Deno.ChildProcess;
  /** Every JSON log line the process wrote to stderr so far (non-JSON lines as `{ raw }`). */
  logs: Record<string, unknown>[];
  /** Resolves with the first log line (already written or to come) that `match` accepts. */
  waitForLog(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** SIGTERM, then waits for exit (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<Deno.CommandStatus>;
}

/** Starts `plane <role> ...args` and waits for `ready` in its log (default: none). */
export async function startPlane(
  role: string,
  args: string[],
  options: { env?: Record<string, string>; ready?: (line: Record<string, unknown>) => boolean } =
    {},
): Promise<PlaneProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", ...planePermissions(), MAIN, role, ...args],
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...options.env },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const logs: Record<string, unknown>[] = [];
  const listeners = new Set<(line: Record<string, unknown>) => void>();
  const reading = (async () => {
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of child.stderr) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf("\n")) >= 0) {
        const text = buffer.slice(0, end);
        buffer = buffer.slice(end + 1);
        let line: Record<string, unknown>;
        try {
          line = JSON.parse(text);
        } catch {
          line = { raw: text };
        }
        logs.push(line);
        for (const listener of listeners) listener(line);
      }
    }
  })();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });

  function waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs = 20_000) {
    const found = logs.find(match);
    if (found) return Promise.resolve(found);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const listener = (line: Record<string, unknown>) => {
        if (!match(line)) return;
        done();
        resolve(line);
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `plane ${role}: no matching log line within ${timeoutMs} ms; log:\n` +
              logs.map((l) => JSON.stringify(l)).join("\n"),
          ),
        );
      }, timeoutMs);
      const onExit = status.then((s) => {
        if (!listeners.has(listener)) return;
        done();
        reject(
          new Error(
            `plane ${role} exited (code ${s.code}) before the awaited log line; log:\n` +
              logs.map((l) => JSON.stringify(l)).join("\n"),
          ),
        );
      });
      function done() {
        clearTimeout(timer);
        listeners.delete(listener);
        void onExit;
      }
      listeners.add(listener);
    });
  }

  async function stop(graceMs = 10_000): Promise<Deno.CommandStatus> {
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
      }, graceMs);
      await status.finally(() => clearTimeout(timer));
    }
    await reading.catch(() => {});
    return status;
  }

  const process: PlaneProcess = {
    role,
    child,
    logs,
    waitForLog,
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
    },
  };
  if (options.ready) {
    try {
      await waitForLog(options.ready);
    } catch (err) {
      await stop(1_000);
      throw err;
    }
  }
  return process;
}

/** The local-runtime images every cluster test can use. */
export function defaultImages(): Record<string, unknown> {
  return {
    echo: { command: [Deno.execPath(), "run", "--allow-net", "--allow-env", ECHO_BACKEND] },
    // Listens on nothing: never becomes ready.
    silent: { command: ["sleep", "600"] },
  };
}

export interface ClusterOptions {
  /** Bearer keys the controller accepts (`--api-key`); none means an open loopback controller. */
  apiKeys?: string[];
  /**
   * `--cluster-secret`, given to drone and proxy too. Defaults to a fixed test secret when
   * `apiKeys` are given: sockets take no API key, so a keyed controller without one would
   * refuse the drone and proxy.
   */
  clusterSecret?: string;
  /** Local-runtime images file contents (default: `defaultImages()`). */
  images?: Record<string, unknown>;
  controllerArgs?: string[];
  proxyArgs?: string[];
  droneArgs?: string[];
  /** Start a drone (default true). */
  drone?: boolean;
  /** Start a proxy (default true). */
  proxy?: boolean;
  logLevel?: "debug" | "info" | "warn" | "error";
  /** The cluster name (default `localhost:PORT`, the proxy's port). */
  cluster?: string;
}

export interface PlaneCluster extends AsyncDisposable {
  database: TestDatabase;
  /** `http://127.0.0.1:PORT` of the controller. */
  controllerUrl: string;
  /** `localhost:PORT` (unless `ClusterOptions.cluster`): the cluster name, and the proxy's address. */
  cluster: string;
  /** `http://localhost:PORT` of the proxy (Host is the cluster). */
  proxyUrl: string;
  controller: PlaneProcess;
  proxy: PlaneProcess | null;
  drone: PlaneProcess | null;
  /**
   * Starts the drone again with the same name, state file and flags (after `drone.child.kill`
   * or `drone.stop()`), waits until it is schedulable, and makes it `drone`.
   */
  restartDrone(): Promise<PlaneProcess>;
  /** The drone's name (`dr-...`), when one runs. */
  droneName: string | null;
  /**
   * Starts one more `plane drone` on this controller (same images, own name and state file,
   * stopped with the cluster) and waits until it is schedulable. `pool` sets `--pool`.
   */
  startDrone(
    options?: { pool?: string; args?: string[] },
  ): Promise<PlaneProcess & { name: string }>;
  /** A temporary directory for this cluster's files. */
  dir: string;
  /** `fetch` of the controller API with the first API key as bearer (if any). */
  api(path: string, init?: RequestInit): Promise<Response>;
  /** POST /ctrl/connect; returns status and parsed body. */
  connect(body: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  /** Connects and waits until the backend is ready; returns the connect response body. */
  connectReady(body: unknown): Promise<Record<string, unknown>>;
}

/**
 * A whole cluster as users run it: a fresh Postgres database, `plane controller`, `plane proxy`
 * on a free port (cluster `localhost:PORT`), and `plane drone` with the local runtime.
 */
export async function startPlaneCluster(options: ClusterOptions = {}): Promise<PlaneCluster> {
  const dir = await Deno.makeTempDir({ prefix: "plane-cluster-" });
  const database = await createTestDatabase();
  const started: PlaneProcess[] = [];
  const logLevel = options.logLevel ?? "info";
  const clusterSecret = options.clusterSecret ??
    (options.apiKeys?.length ? "plane-process-test-cluster-secret" : undefined);
  const secretEnv: Record<string, string> = clusterSecret
    ? { PLANE_CLUSTER_SECRET: clusterSecret }
    : {};
  try {
    const proxyPort = freePort();
    const cluster = options.cluster ?? `localhost:${proxyPort}`;
    const controllerArgs = [
      "--db",
      database.url,
      "--port",
      "0",
      "--default-cluster",
      cluster,
      "--log-level",
      logLevel,
      ...(options.apiKeys ?? []).flatMap((key) => ["--api-key", key]),
      ...(options.controllerArgs ?? []),
    ];
    const controller = await startPlane("controller", controllerArgs, {
      env: secretEnv,
      ready: (l) => l.message === "Controller listening",
    });
    started.push(controller);
    const controllerUrl = String(
      controller.logs.find((l) => l.message === "Controller listening")!.url,
    );

    let proxy: PlaneProcess | null = null;
    if (options.proxy !== false) {
      proxy = await startPlane("proxy", [
        "--controller-url",
        controllerUrl,
        "--cluster",
        cluster,
        "--http-port",
        String(proxyPort),
        "--hostname",
        "127.0.0.1",
        "--log-level",
        logLevel,
        ...(options.proxyArgs ?? []),
      ], { env: secretEnv, ready: (l) => l.message === "Proxy listening" });
      started.push(proxy);
    }

    let drone: PlaneProcess | null = null;
    let droneName: string | null = null;
    const imagesPath = `${dir}/images.json`;
    await Deno.writeTextFile(imagesPath, JSON.stringify(options.images ?? defaultImages()));
    const stateDirs = [dir];
    const launchDrone = async (name: string, stateDir = dir, extraArgs: string[] = []) => {
      const process = await startPlane("drone", [
        "--controller-url",
        controllerUrl,
        "--cluster",
        cluster,
        "--name",
        name,
        "--db",
        `${stateDir}/drone-state.db`,
        "--runtime",
        "local",
        "--images",
        imagesPath,
        "--log-level",
        logLevel,
        ...(options.droneArgs ?? []),
        ...extraArgs,
      ], { env: secretEnv, ready: (l) => l.message === "Drone starting" });
      started.push(process);
      await waitFor(async () => {
        const { rows } = await database.db.query<{ ok: boolean }>(
          `select true as ok from node join drone on drone.id = node.id
           where node.name = $1 and node.controller is not null
             and drone.last_local_time is not null`,
          [name],
        );
        return rows.length === 1;
      }, { message: `drone ${name} schedulable`, timeoutMs: 20_000 });
      return process;
    };
    if (options.drone !== false) {
      droneName = `dr-test${crypto.randomUUID().slice(0, 8)}`;
      drone = await launchDrone(droneName);
    }

    const key = options.apiKeys?.[0];
    const api = (path: string, init: RequestInit = {}) => {
      const headers = new Headers(init.headers);
      if (key !== undefined && !headers.has("authorization")) {
        headers.set("authorization", `Bearer ${key}`);
      }
      return fetch(`${controllerUrl}${path}`, { ...init, headers });
    };
    const connect = async (body: unknown) => {
      const response = await api("/ctrl/connect", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      const text = await response.text();
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = { raw: text };
      }
      return { status: response.status, body: parsed };
    };
    const connectReady = async (body: unknown) => {
      const answer = await connect(body);
      if (answer.status !== 200) {
        throw new Error(`connect answered ${answer.status}: ${JSON.stringify(answer.body)}`);
      }
      const id = String(answer.body.backend_id);
      const status = await api(`/pub/b/${id}/status?wait=ready`);
      const state = await status.json();
      if (state.status !== "ready") {
        throw new Error(`backend ${id} did not become ready: ${JSON.stringify(state)}`);
      }
      return answer.body;
    };

    const planeCluster: PlaneCluster = {
      database,
      controllerUrl,
      cluster,
      proxyUrl: `http://${cluster}`,
      controller,
      proxy,
      drone,
      async restartDrone() {
        if (droneName === null) throw new Error("This cluster was started without a drone");
        await planeCluster.drone?.stop();
        planeCluster.drone = await launchDrone(droneName);
        return planeCluster.drone;
      },
      droneName,
      async startDrone(extra = {}) {
        const name = `dr-test${crypto.randomUUID().slice(0, 8)}`;
        const stateDir = `${dir}/drones/${name}`;
        await Deno.mkdir(stateDir, { recursive: true });
        stateDirs.push(stateDir);
        const args = [
          ...extra.pool === undefined ? [] : ["--pool", extra.pool],
          ...extra.args ?? [],
        ];
        return Object.assign(await launchDrone(name, stateDir, args), { name });
      },
      dir,
      api,
      connect,
      connectReady,
      async [Symbol.asyncDispose]() {
        await stopAll(started);
        for (const stateDir of stateDirs) await killLeftBackends(`${stateDir}/pids`);
        await database[Symbol.asyncDispose]();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      },
    };
    return planeCluster;
  } catch (err) {
    await stopAll(started);
    await database[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw err;
  }
}

/**
 * A stopped drone leaves its backends running (as in Plane); a test must not, so the process
 * groups named by the drone's pid files (`<db dir>/pids`) are killed.
 */
async function killLeftBackends(pidDir: string) {
  try {
    for await (const entry of Deno.readDir(pidDir)) {
      const text = await Deno.readTextFile(`${pidDir}/${entry.name}`).catch(() => "");
      const identity = parsePidFile(text);
      if (identity === null) continue;
      try {
        Deno.kill(-identity.pgid, "SIGKILL");
      } catch { /* already gone */ }
    }
  } catch { /* no pid directory: no backend was started */ }
}

/** Stops proxy and drone before the controller, so neither logs a lost controller. */
async function stopAll(started: PlaneProcess[]) {
  for (const process of [...started].reverse()) await process.stop();
}
