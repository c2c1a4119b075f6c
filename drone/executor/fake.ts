/**
 * An in-memory executor for unit tests of the drone: each "backend" is an in-process HTTP
 * server on a loopback port, so readiness and routing behave as with real runtimes. It passes
 * the same conformance suite as the Docker and local-process runtimes.
 */
import { type BackendMetricsMessage, type BackendName, firstEnvRefusal } from "../../shared/mod.ts";
import {
  type Executable,
  type Executor,
  type ExitEvent,
  type LogLine,
  planeEnv,
  type ReadyResult,
  type SpawnRequest,
} from "./executor.ts";
import { LogTail } from "./log_tail.ts";
import { waitForHttp } from "./readiness.ts";

interface FakeBackend {
  server: Deno.HttpServer<Deno.NetAddr>;
  tail: LogTail;
  exited: boolean;
}

export class FakeExecutor implements Executor {
  readonly images: Set<string>;
  /** Inject failures: images whose prepare or spawn throws. */
  readonly failPrepare = new Set<string>();
  readonly failSpawn = new Set<string>();
  /** Backends that never become ready (waitForReady times out). */
  readonly neverReady = new Set<string>();
  #backends = new Map<BackendName, FakeBackend>();
  #listeners: ((event: ExitEvent) => void)[] = [];

  constructor(images: Iterable<string> = ["fake"]) {
    this.images = new Set(images);
  }

  #image(executable: Executable): string {
    const image = executable.image;
    if (typeof image !== "string" || !this.images.has(image)) {
      throw new RangeError(`Cannot run image "${String(image)}": unknown to the fake executor`);
    }
    return image;
  }

  async prepare(executable: Executable): Promise<void> {
    await Promise.resolve();
    const image = this.#image(executable);
    if (this.failPrepare.has(image)) throw new Error(`Pull of "${image}" failed`);
  }

  spawn(request: SpawnRequest): Promise<{ address: string }> {
    const image = this.#image(request.executable);
    if (this.failSpawn.has(image)) return Promise.reject(new Error(`Spawn of "${image}" failed`));
    // As Docker: reserved and invalid names are refused, the rest is the image's business.
    const refusal = firstEnvRefusal(
      (request.executable.env ?? {}) as Record<string, unknown>,
      { injection: false },
    );
    if (refusal) return Promise.reject(new RangeError(refusal.message));
    const tail = new LogTail();
    tail.onLine((line) => {
      for (const listener of this.#logListeners) listener(request.backendId as BackendName, line);
    });
    let env: Record<string, string> = {};
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
      const url = new URL(req.url);
      if (url.pathname === "/exit") {
        queueMicrotask(() =>
          this.#exit(request.backendId, Number(url.searchParams.get("code") ?? 0))
        );
        return new Response("bye");
      }
      return Response.json({ env, path: url.pathname + url.search, method: req.method });
    });
    const userEnv = (request.executable.env ?? {}) as Record<string, string>;
    env = { ...userEnv, ...planeEnv(request, server.addr.port) };
    this.#backends.set(request.backendId, { server, tail, exited: false });
    tail.write("stdout", `listening on ${server.addr.port}\n`);
    tail.write("stderr", "stderr hello\n");
    return Promise.resolve({ address: `127.0.0.1:${server.addr.port}` });
  }

  async #exit(backendId: BackendName, exitCode: number) {
    const backend = this.#backends.get(backendId);
    if (!backend || backend.exited) return;
    backend.exited = true;
    await backend.server.shutdown();
    for (const listener of this.#listeners) listener({ backendId, exitCode });
  }

  terminate(backendId: BackendName, { hard }: { hard: boolean }): Promise<boolean> {
    const backend = this.#backends.get(backendId);
    if (!backend || backend.exited) return Promise.resolve(false);
    // The exit codes a shell reports for SIGTERM and SIGKILL.
    queueMicrotask(() => this.#exit(backendId, hard ? 137 : 143));
    return Promise.resolve(true);
  }

  async waitForReady(
    backendId: BackendName,
    address: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<ReadyResult> {
    if (this.neverReady.has(backendId)) {
      return await waitForHttp("127.0.0.1:1", { ...options, timeoutMs: 200 });
    }
    return await waitForHttp(address, options);
  }

  #logListeners: ((backendId: BackendName, line: LogLine) => void)[] = [];

  onLog(listener: (backendId: BackendName, line: LogLine) => void): void {
    this.#logListeners.push(listener);
  }

  onExit(listener: (event: ExitEvent) => void): void {
    this.#listeners.push(listener);
  }

  metrics(backendId: BackendName): Promise<BackendMetricsMessage | null> {
    const backend = this.#backends.get(backendId);
    if (!backend || backend.exited) return Promise.resolve(null);
    const mem = 8 * 1024 * 1024;
    return Promise.resolve({
      "backend_id": backendId,
      "mem_used": mem,
      "mem_total": mem,
      "mem_active": mem,
      "mem_inactive": 0,
      "mem_unevictable": 0,
      "mem_limit": 0,
      "cpu_used": 1_000_000,
      "sys_cpu": 10_000_000,
    });
  }

  logs(backendId: BackendName): LogLine[] {
    return this.#backends.get(backendId)?.tail.lines() ?? [];
  }

  async close(): Promise<void> {
    await Promise.all([...this.#backends.keys()].map((id) => this.#exit(id, 137)));
  }
}
