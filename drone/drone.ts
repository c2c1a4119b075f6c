/**
 * The drone's core, independent of the socket (plane-0.5.md §6.4): applies actions from the
 * controller to backend managers, reports every state through the state store's outbox,
 * renews keys, and at start-up kills every backend a previous run left behind.
 */
import {
  type BackendActionMessage,
  type BackendMetricsMessage,
  type BackendName,
  type BackendState,
  type BackendStateMessage,
  createHistogram,
  type Histogram,
  type KeyDeadlines,
  type Logger,
  type LogLine,
  type LogLinesMessage,
  observe,
  STARTUP_BUCKETS,
} from "../shared/mod.ts";
import type { Executor } from "./executor/mod.ts";
import type { StateStore } from "./state_store.ts";
import type { Clock } from "./clock.ts";
import { BackendManager } from "./backend_manager.ts";
import { KeyManager } from "./key_manager.ts";
import { lastStatusOf } from "./backend_lifecycle.ts";

/**
 * Start-up kill attempts per leftover backend before giving up on it (plane-0.5.md §6.4 step 3).
 */
const SWEEP_ATTEMPTS = 10;

export interface DroneCoreDeps {
  executor: Executor;
  store: StateStore;
  clock: Clock;
  log: Logger;
}

/** What the core asks of the current controller connection. */
export interface DroneLinkPort {
  renewKey(backendId: BackendName, localTime: number): boolean;
  metrics(message: BackendMetricsMessage): boolean;
  logs(message: LogLinesMessage): boolean;
}

/** Live log lines are batched this long before sending (one message per burst, not per line). */
const LOG_BATCH_MS = 50;
/** Lines per `LogLines` message (the schema's bound). */
const LOG_BATCH_LINES = 1000;

export type ActionOutcome = "applied" | "ignored";

/** What the drone's `/metrics` shows (issue 15), read at scrape time. */
export interface DroneMetricsSnapshot {
  /** Live backends (those this run manages) by status. */
  statuses: Map<string, number>;
  /** The last resource sample of each live backend (every 10 s, plane-0.5.md §3.8). */
  samples: BackendMetricsMessage[];
  /** Seconds from a Spawn applied to the backend `ready`. */
  spawnToReady: Histogram;
}

export class DroneCore {
  readonly #deps: DroneCoreDeps;
  readonly #managers = new Map<BackendName, BackendManager>();
  readonly keys: KeyManager;
  #link: DroneLinkPort | null = null;
  #closed = false;
  /** Backends whose live output a controller follows, until when (drone clock). */
  readonly #followed = new Map<BackendName, number>();
  #pendingLines = new Map<BackendName, LogLine[]>();
  #flushTimer: ReturnType<typeof setTimeout> | null = null;
  /** Metrics: each live backend's last resource sample, and when its Spawn was applied. */
  readonly #samples = new Map<BackendName, BackendMetricsMessage>();
  readonly #spawnedAt = new Map<BackendName, number>();
  readonly #spawnToReady = createHistogram(STARTUP_BUCKETS);

  constructor(deps: DroneCoreDeps) {
    this.#deps = deps;
    this.keys = new KeyManager({
      clock: deps.clock,
      renew: (id, localTime) => this.#link?.renewKey(id, localTime) ?? false,
      terminate: (id, kind) => this.#managers.get(id)?.terminate(kind, "keyexpired"),
    });
    deps.executor.onLog((backendId, line) => this.#onLogLine(backendId, line));
    deps.executor.onExit(({ backendId, exitCode }) => {
      if (this.#closed) return;
      const manager = this.#managers.get(backendId);
      if (manager) manager.exited(exitCode);
    });
  }

  /**
   * Hard-kills every backend the store says is not terminated (a previous run's, plane-0.5.md §6.4
   * step 3).
   */
  async sweepLeftovers(): Promise<BackendName[]> {
    const { store, executor, log, clock } = this.#deps;
    const swept: BackendName[] = [];
    // Issue 11, findings 2 and 4: what the runtime itself finds (pid files, labelled
    // containers) goes first, whether or not the store still lists the backend.
    const found = await executor.sweep?.();
    if (found && found.killed.length > 0) {
      log.info("Removed backend processes or containers left by a previous run", {
        backends: found.killed,
      });
    }
    for (const { backendId, error } of found?.failed ?? []) {
      log.error("Could not remove what a previous run left for a backend", {
        backend: backendId,
        error,
      });
    }
    for (const { id, state } of store.activeBackends()) {
      const last = lastStatusOf(state);
      store.registerEvent(id, {
        status: "hard-terminating",
        last_status: last,
        reason: "keyexpired",
      }, clock.now());
      for (let attempt = 1; attempt <= SWEEP_ATTEMPTS; attempt++) {
        try {
          await executor.terminate(id, { hard: true });
          break;
        } catch (err) {
          if (attempt === SWEEP_ATTEMPTS) {
            log.error("Could not kill a leftover backend; giving up", { backend: id, err });
            break;
          }
          log.warn("Could not kill a leftover backend", { backend: id, attempt, err });
          await new Promise((r) => setTimeout(r, 100 * attempt));
        }
      }
      store.registerEvent(id, {
        status: "terminated",
        last_status: last,
        termination: "hard",
        reason: "keyexpired",
        "exit_code": null,
        error: "the drone restarted and killed this backend, left running by its previous run",
      }, clock.now());
      swept.push(id);
    }
    if (swept.length > 0) log.info("Killed backends left by a previous run", { backends: swept });
    return swept;
  }

  /** A new controller connection: replay the outbox to `send`, then stream new events to it. */
  attach(link: DroneLinkPort, send: (message: BackendStateMessage) => void): void {
    this.#link = link;
    this.#deps.store.registerListener(send);
    this.keys.reconnected();
  }

  detach(): void {
    this.#link = null;
    this.#deps.store.clearListener();
  }

  /**
   * Applies one action (plane-0.5.md §6.4 step 6). "ignored" means: do not ack (a repeated Spawn
   * whose key is already registered, as Plane does).
   */
  async applyAction(message: BackendActionMessage): Promise<ActionOutcome> {
    const { action, backend_id: backendId } = message;
    if ("Spawn" in action) {
      const spawn = action.Spawn;
      if (spawn.key.deadlines.soft_terminate_at < this.#deps.clock.now()) {
        this.#deps.log.warn("Spawn arrived after its soft-terminate deadline", {
          backend: backendId,
        });
      }
      if (this.#managers.has(backendId) || !this.keys.register(backendId, spawn.key.deadlines)) {
        this.#deps.log.warn("Ignoring a repeated Spawn", { backend: backendId });
        return "ignored";
      }
      const manager = new BackendManager({
        backendId,
        executable: spawn.executable,
        key: spawn.key,
        staticToken: spawn.static_token,
      }, {
        executor: this.#deps.executor,
        log: this.#deps.log,
        record: (id, state) => this.#record(id, state),
      });
      this.#managers.set(backendId, manager);
      this.#spawnedAt.set(backendId, this.#deps.clock.now());
      // Issue 11, finding 1: the ack goes out before the runtime's work (a local spawn forks,
      // tens of ms under load). Started inline, a burst of Spawns kept the drone from sending
      // any ack for so long that the controller re-sent them. A Terminate that comes first wins.
      setTimeout(() => {
        if (this.#closed || this.#managers.get(backendId) !== manager) return;
        if (manager.state.status === "scheduled") manager.start();
      }, 0);
      return "applied";
    }
    const { kind, reason } = action.Terminate;
    const manager = this.#managers.get(backendId);
    if (manager) {
      manager.terminate(kind, reason);
      return "applied";
    }
    // Unknown here (plane-0.5.md §6.4): kill to be safe — this throws on a runtime error, so the
    // action is not acked and will be re-sent — then report it lost.
    await this.#deps.executor.terminate(backendId, { hard: true });
    const known = this.#deps.store.backendState(backendId);
    if (known?.status !== "terminated") {
      this.#deps.store.registerEvent(backendId, {
        status: "terminated",
        last_status: known ? lastStatusOf(known) : "ready",
        termination: null,
        reason: "lost",
        "exit_code": null,
        error: "the drone was asked to terminate this backend but did not know it",
      }, this.#deps.clock.now());
    }
    return "applied";
  }

  ackEvent(eventId: number): void {
    this.#deps.store.ackEvent(eventId);
  }

  keyRenewed(backendId: BackendName, deadlines: KeyDeadlines | null): void {
    if (deadlines) this.keys.renewed(backendId, deadlines);
    else this.#deps.log.warn("Key renewal refused", { backend: backendId });
  }

  backendState(backendId: BackendName): BackendState | null {
    return this.#managers.get(backendId)?.state ?? this.#deps.store.backendState(backendId);
  }

  get liveBackends(): number {
    return this.#managers.size;
  }

  #record(backendId: BackendName, state: BackendState) {
    // After close the store may be gone; a later run's start-up sweep settles these backends.
    if (this.#closed) return;
    this.#deps.store.registerEvent(backendId, state, this.#deps.clock.now());
    if (state.status === "ready") {
      const spawnedAt = this.#spawnedAt.get(backendId);
      if (spawnedAt !== undefined) {
        observe(this.#spawnToReady, (this.#deps.clock.now() - spawnedAt) / 1000);
        this.#spawnedAt.delete(backendId);
      }
    }
    if (state.status === "terminated") {
      this.#samples.delete(backendId);
      this.#spawnedAt.delete(backendId);
      this.keys.unregister(backendId);
      this.#managers.delete(backendId);
      // Issue 11, finding 5: nothing of an ended backend stays in memory here.
      this.#followed.delete(backendId);
    }
  }

  /**
   * A controller wants this backend's output (decisions.md §3.4): send the tail tagged
   * with `request` now, then live lines until `until`.
   */
  followLogs(backendId: BackendName, request: string, until: number, tail: boolean): void {
    const link = this.#link;
    if (!link) return;
    this.#flushLines();
    if (tail) {
      const lines = this.#deps.executor.logs(backendId);
      for (let i = 0; i === 0 || i < lines.length; i += LOG_BATCH_LINES) {
        link.logs({
          "backend_id": backendId,
          request,
          more: i + LOG_BATCH_LINES < lines.length,
          lines: lines.slice(i, i + LOG_BATCH_LINES),
        });
      }
    }
    // Follows that expired without a line (the backend had ended) are released here.
    const now = this.#deps.clock.now();
    for (const [id, end] of this.#followed) if (end < now) this.#followed.delete(id);
    this.#followed.set(backendId, Math.max(until, this.#followed.get(backendId) ?? 0));
  }

  #onLogLine(backendId: BackendName, line: LogLine) {
    const until = this.#followed.get(backendId);
    if (until === undefined) return;
    if (until < this.#deps.clock.now()) {
      this.#followed.delete(backendId);
      return;
    }
    let batch = this.#pendingLines.get(backendId);
    if (!batch) this.#pendingLines.set(backendId, batch = []);
    batch.push(line);
    if (batch.length >= LOG_BATCH_LINES) this.#flushLines();
    else this.#flushTimer ??= setTimeout(() => this.#flushLines(), LOG_BATCH_MS);
  }

  #flushLines() {
    if (this.#flushTimer !== null) clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
    const pending = this.#pendingLines;
    this.#pendingLines = new Map();
    for (const [backendId, lines] of pending) {
      this.#link?.logs({ "backend_id": backendId, request: null, more: false, lines });
    }
  }

  /**
   * Hard-terminates every live backend and waits (up to `timeoutMs`) until each is recorded
   * `terminated` — for `plane dev`, whose Ctrl-C must leave nothing running.
   */
  async terminateAll(timeoutMs = 10_000): Promise<number> {
    const managers = [...this.#managers.values()];
    for (const manager of managers) manager.terminate("hard", "external");
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(managers.map((m) => m.done)),
      new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
    return managers.length;
  }

  /**
   * Samples every live backend's resources and sends them on the current link (plane-0.5.md §3.8,
   * every 10 s).
   */
  async sendMetrics(): Promise<void> {
    const link = this.#link;
    if (!link) return;
    for (const id of [...this.#managers.keys()]) {
      try {
        const sample = await this.#deps.executor.metrics(id);
        if (sample && this.#managers.has(id)) this.#samples.set(id, sample);
        if (sample) link.metrics(sample);
      } catch (err) {
        this.#deps.log.debug("Metrics sample failed", { backend: id, err });
      }
    }
  }

  /** The numbers of the drone's `/metrics`, now. */
  metricsSnapshot(): DroneMetricsSnapshot {
    const statuses = new Map<string, number>();
    for (const manager of this.#managers.values()) {
      const status = manager.state.status;
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
    return { statuses, samples: [...this.#samples.values()], spawnToReady: this.#spawnToReady };
  }

  /** Stops timers and steps; backends keep running (Plane leaves them; the next start kills them). */
  close(): void {
    this.#closed = true;
    if (this.#flushTimer !== null) clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
    this.keys.close();
    for (const manager of this.#managers.values()) manager.stop();
    this.detach();
  }
}
