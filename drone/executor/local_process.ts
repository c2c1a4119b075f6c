/**
 * The local-process runtime (decisions.md §3.3): the drone's configuration maps an
 * image name to a command; each backend runs as its own process group with `PORT` and the
 * `SESSION_BACKEND_*` variables, on a free loopback port. Terminate signals the whole group
 * (SIGTERM, SIGKILL after the grace period); unmapped images are refused.
 */
import { z } from "zod";
import {
  type BackendMetricsMessage,
  type BackendName,
  firstEnvRefusal,
  isReservedEnvName,
  type Logger,
} from "../../shared/mod.ts";
import {
  type Executable,
  type Executor,
  type ExitEvent,
  type LogLine,
  planeEnv,
  type ReadyResult,
  type SpawnRequest,
  type SweepResult,
} from "./executor.ts";
import { LogTail } from "./log_tail.ts";
import { freePort } from "./free_port.ts";
import { readProcessUsage } from "./process_usage.ts";
import { ENDED_TAIL_RETENTION_MS, EndedTails, MAX_ENDED_TAILS } from "./ended_tails.ts";
import { PidFiles, UNVERIFIABLE } from "./pid_files.ts";
import { STARTUP_TIMEOUT_MS, waitForHttp } from "./readiness.ts";

export const LocalImage = z.object({
  command: z.array(z.string()).min(1, "A command needs at least the program"),
  env: z.record(z.string(), z.string()).default({}),
  cwd: z.string().optional(),
  /**
   * Names a spawn's `env` may set for this image although a runtime, the loader or a shell
   * reads them as code (`shared/backend_env.ts`), e.g. `["PYTHONPATH"]`. Reserved names
   * (`SESSION_BACKEND_*`, `PLANE_*`) are refused even here.
   */
  allowEnv: z.array(
    z.string().refine((name) => !isReservedEnvName(name), {
      message: "SESSION_BACKEND_* and PLANE_* are reserved for the platform and cannot be " +
        "allowed",
    }),
  ).default([]),
});
export type LocalImage = z.infer<typeof LocalImage>;

export const LocalProcessConfig = z.object({
  /** Image name → command. Only these images run. */
  images: z.record(z.string(), LocalImage),
  /** Address backends listen on and proxies reach them at. */
  ip: z.string().default("127.0.0.1"),
  /** Soft-terminate grace before SIGKILL (Plane's Docker stop timeout, plane-0.5.md §3.7). */
  softGraceMs: z.number().int().positive().default(30_000),
  startupTimeoutMs: z.number().int().positive().default(STARTUP_TIMEOUT_MS),
  tailLines: z.number().int().positive().default(1000),
  tailBytes: z.number().int().positive().default(256 * 1024),
  /** How long an ended backend's tail stays readable through `logs` (issue 11, finding 5). */
  endedTailRetentionMs: z.number().int().nonnegative().default(ENDED_TAIL_RETENTION_MS),
  /** At most this many ended backends' tails are kept. */
  maxEndedTails: z.number().int().nonnegative().default(MAX_ENDED_TAILS),
  /**
   * Directory for one pid file per running backend, so a restarted drone can kill the
   * process groups its previous run left (they are detached and outlive a killed drone).
   */
  stateDir: z.string().optional(),
});
export type LocalProcessConfig = z.infer<typeof LocalProcessConfig>;

/** Variables passed through from the drone; everything else (secrets included) stays out. */
const PASSTHROUGH_ENV = ["PATH", "HOME", "LANG", "TZ", "TMPDIR", "DENO_DIR", "NO_COLOR"];

const ImageRef = z.object({
  image: z.string().min(1),
  env: z.record(z.string(), z.string()).default({}),
});

interface Running {
  /** CPU ticks (utime + stime) and wall time at the previous metrics sample. */
  lastCpu: { ticks: number; at: number } | null;
  child: Deno.ChildProcess;
  pid: number;
  /** The loopback port it was given (held in `#ports` until it exits). */
  port: number;
  tail: LogTail;
  exited: boolean;
  killTimer: ReturnType<typeof setTimeout> | null;
  /** Settles once the pid file holds the process's identity (or writing it failed). */
  recorded: Promise<void>;
}

function parseImage(executable: Executable, images: LocalProcessConfig["images"]) {
  const parsed = ImageRef.safeParse(executable);
  if (!parsed.success) {
    throw new TypeError(`Invalid executable: ${parsed.error.issues[0]?.message ?? "bad shape"}`);
  }
  const image = images[parsed.data.image];
  if (!image) {
    const known = Object.keys(images);
    throw new RangeError(
      `Cannot run image "${parsed.data.image}": it is not mapped to a command in this drone's ` +
        `local-process configuration (mapped: ${known.length ? known.join(", ") : "none"})`,
    );
  }
  // Issue 10, finding 4: the controller refuses these at connect, but a drone does not trust
  // it: API-supplied NODE_OPTIONS, LD_PRELOAD or PATH would run code on this host.
  const refusal = firstEnvRefusal(parsed.data.env, {
    allowed: new Set(image.allowEnv),
    optIn: `opt it in with "allowEnv" on image "${parsed.data.image}" in this drone's --images ` +
      "file",
  });
  if (refusal) throw new RangeError(refusal.message);
  return { image, userEnv: parsed.data.env };
}

function signalGroup(pid: number, signal: Deno.Signal) {
  try {
    // A negative pid signals the process group the child leads (it was started detached).
    Deno.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}

export class LocalProcessExecutor implements Executor {
  #config: LocalProcessConfig;
  #log: Logger | null;
  #pids: PidFiles | null;
  #running = new Map<BackendName, Running>();
  /**
   * Ports given to backends that have not exited. `freePort` closes its probe socket before
   * the backend binds, and the kernel may hand the same port to the next spawn in between: the
   * later backend then exits with EADDRINUSE, and its readiness probe may first be answered by
   * the other backend (the soak's rare "proxy answered 410" and "terminated" before ready,
   * both with `exited with code 1`). Never giving out a port twice closes that window between
   * this drone's own backends.
   */
  #ports = new Set<number>();
  #choosePort: (hostname: string) => number;
  #ended: EndedTails;
  #listeners: ((event: ExitEvent) => void)[] = [];

  constructor(
    config: z.input<typeof LocalProcessConfig>,
    options: { log?: Logger; choosePort?: (hostname: string) => number } = {},
  ) {
    this.#config = LocalProcessConfig.parse(config);
    this.#log = options.log ?? null;
    this.#choosePort = options.choosePort ?? freePort;
    this.#pids = this.#config.stateDir ? new PidFiles(this.#config.stateDir, this.#log) : null;
    this.#ended = new EndedTails({
      retentionMs: this.#config.endedTailRetentionMs,
      maxCount: this.#config.maxEndedTails,
    });
  }

  prepare(executable: Executable): Promise<void> {
    try {
      parseImage(executable, this.#config.images);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async spawn(request: SpawnRequest): Promise<{ address: string }> {
    const { address, running } = this.#spawn(request);
    await running.recorded;
    return { address };
  }

  #spawn(request: SpawnRequest): { address: string; running: Running } {
    const { image, userEnv } = parseImage(request.executable, this.#config.images);
    const port = this.#reservePort();
    const env: Record<string, string> = {};
    for (const name of PASSTHROUGH_ENV) {
      const value = Deno.env.get(name);
      if (value !== undefined) env[name] = value;
    }
    Object.assign(env, image.env, userEnv, planeEnv(request, port));
    const [program, ...args] = image.command;
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(program!, {
        args,
        env,
        clearEnv: true,
        ...(image.cwd ? { cwd: image.cwd } : {}),
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        detached: true,
      }).spawn();
    } catch (err) {
      this.#ports.delete(port);
      throw err;
    }
    const tail = new LogTail(this.#config.tailLines, this.#config.tailBytes);
    tail.onLine((line) => {
      for (const listener of this.#logListeners) listener(request.backendId as BackendName, line);
    });
    const running: Running = {
      lastCpu: null,
      child,
      pid: child.pid,
      port,
      tail,
      exited: false,
      killTimer: null,
      recorded: this.#pids?.record(request.backendId, child.pid) ?? Promise.resolve(),
    };
    this.#running.set(request.backendId, running);
    const pumps = [pump(child.stdout, "stdout", tail), pump(child.stderr, "stderr", tail)];
    child.status.then(async (status) => {
      running.exited = true;
      if (running.killTimer !== null) clearTimeout(running.killTimer);
      // Leave nothing behind: children the backend started die with it.
      signalGroup(running.pid, "SIGKILL");
      await Promise.all(pumps);
      tail.end();
      // Issue 11, finding 5: an ended backend's records go; its tail stays readable a while.
      this.#running.delete(request.backendId);
      this.#ports.delete(port);
      this.#ended.add(request.backendId, tail);
      await running.recorded;
      this.#pids?.remove(request.backendId);
      const event: ExitEvent = { backendId: request.backendId, exitCode: status.code };
      for (const listener of this.#listeners) listener(event);
    });
    return { address: `${this.#config.ip}:${port}`, running };
  }

  /** A port no live backend of this drone was given (see `#ports`). */
  #reservePort(): number {
    for (let attempt = 0; attempt < 100; attempt++) {
      const port = this.#choosePort(this.#config.ip);
      if (this.#ports.has(port)) continue;
      this.#ports.add(port);
      return port;
    }
    throw new Error(
      `Cannot find a free port on ${this.#config.ip} for a backend: the system keeps handing ` +
        `out ports this drone's backends hold; widen net.ipv4.ip_local_port_range`,
    );
  }

  /** Ports held for live backends (tests, bounds). */
  get heldPorts(): number {
    return this.#ports.size;
  }

  async terminate(backendId: BackendName, { hard }: { hard: boolean }): Promise<boolean> {
    const running = this.#running.get(backendId);
    if (!running) {
      const outcome = await this.#pids?.killLeftover(backendId);
      if (outcome === "unverifiable") {
        this.#log?.error(`Cannot kill a leftover backend process: ${UNVERIFIABLE}`, {
          backend: backendId,
          pidFile: this.#pids!.path(backendId),
        });
      }
      return false;
    }
    // Exited but not yet reported: the exit event (with its code) is on its way.
    if (running.exited) return true;
    if (hard) {
      signalGroup(running.pid, "SIGKILL");
    } else {
      signalGroup(running.pid, "SIGTERM");
      running.killTimer ??= setTimeout(
        () => signalGroup(running.pid, "SIGKILL"),
        this.#config.softGraceMs,
      );
    }
    return true;
  }

  async waitForReady(
    backendId: BackendName,
    address: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<ReadyResult> {
    // Stop probing once the process has exited: its exit event ends the backend.
    const exited = new AbortController();
    const running = this.#running.get(backendId);
    running?.child.status.then(() => exited.abort(), () => exited.abort());
    const signal = options.signal
      ? AbortSignal.any([options.signal, exited.signal])
      : exited.signal;
    try {
      return await waitForHttp(address, { signal, timeoutMs: this.#config.startupTimeoutMs });
    } catch (err) {
      if (!exited.signal.aborted || options.signal?.aborted) throw err;
      // The process exited before it became ready. Its exit event (with the exit code) ends
      // the backend; answering here would race it, so wait until the caller moves on.
      await new Promise<void>((_, reject) => {
        if (!options.signal) return;
        options.signal.addEventListener("abort", () => reject(options.signal!.reason), {
          once: true,
        });
      });
      throw err;
    }
  }

  #logListeners: ((backendId: BackendName, line: LogLine) => void)[] = [];

  onLog(listener: (backendId: BackendName, line: LogLine) => void): void {
    this.#logListeners.push(listener);
  }

  onExit(listener: (event: ExitEvent) => void): void {
    this.#listeners.push(listener);
  }

  /**
   * Start-up sweep (issue 11, finding 2): kills every process group a pid file names that this
   * run did not start, whether or not the state store still lists its backend.
   */
  sweep(): Promise<SweepResult> {
    return this.#pids?.sweep((id) => this.#running.has(id)) ??
      Promise.resolve({ killed: [], gone: [], failed: [] });
  }

  /**
   * Memory (resident) and CPU of the backend's leader process (`process_usage.ts`). CPU is
   * reported as nanoseconds used since the previous sample, `sys_cpu` as the wall nanoseconds
   * in between, so `cpu_used / sys_cpu` is the share of one core (Docker's convention is all
   * cores).
   */
  async metrics(backendId: BackendName): Promise<BackendMetricsMessage | null> {
    const running = this.#running.get(backendId);
    if (!running || running.exited) return null;
    const usage = await readProcessUsage(running.pid);
    if (!usage) return null;
    const now = performance.now();
    const previous = running.lastCpu;
    running.lastCpu = { ticks: usage.cpuTicks, at: now };
    return {
      "backend_id": backendId,
      "mem_used": usage.rss,
      "mem_total": usage.rss,
      "mem_active": usage.anon,
      "mem_inactive": usage.file,
      "mem_unevictable": usage.locked,
      "mem_limit": 0,
      "cpu_used": previous ? Math.max(0, usage.cpuTicks - previous.ticks) * 10_000_000 : 0,
      "sys_cpu": previous ? Math.round((now - previous.at) * 1_000_000) : 0,
    };
  }

  logs(backendId: BackendName): LogLine[] {
    return this.#running.get(backendId)?.tail.lines() ?? this.#ended.lines(backendId) ?? [];
  }

  /** Kills every backend still running and waits for them (drone shutdown, tests). */
  async close(): Promise<void> {
    const all = [...this.#running.values()];
    for (const running of all) signalGroup(running.pid, "SIGKILL");
    await Promise.all(all.map((r) => r.child.status));
  }
}

async function pump(stream: ReadableStream<Uint8Array>, name: LogLine["stream"], tail: LogTail) {
  const decoder = new TextDecoder();
  try {
    for await (const chunk of stream) tail.write(name, decoder.decode(chunk, { stream: true }));
  } catch {
    // The process closed its output abruptly; what we read is kept.
  }
}
