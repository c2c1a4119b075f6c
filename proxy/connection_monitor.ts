/**
 * Which backends have traffic, told to the controller as keepalives (behaviour doc §7.5,
 * Plane `connection_monitor.rs`): the first sighting of a backend sends `KeepAlive` at once
 * and schedules a revisit in 7 s; a revisit sends another and reschedules while the backend
 * has open upgraded connections or saw a request since the last visit, and forgets it
 * otherwise. The idle sweeper on the controller (§6.7) feeds on these.
 */

/** The timer functions the monitor uses; tests pass a manual clock. */
export interface MonitorTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const REAL_TIMERS: MonitorTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as number),
};

export interface MonitorEntry {
  /** Open upgraded (WebSocket) connections. */
  activeConnections: number;
  /** A request or upgrade since the last revisit. */
  hadRecentConnection: boolean;
}

export interface ConnectionMonitorOptions {
  /** Revisit interval (§7.5: 7 s). */
  intervalMs?: number | undefined;
  timers?: MonitorTimers;
}

interface State extends MonitorEntry {
  timer: unknown;
}

export class ConnectionMonitor {
  readonly #entries = new Map<string, State>();
  readonly #keepAlive: (backend: string) => void;
  readonly #intervalMs: number;
  readonly #timers: MonitorTimers;

  /** `keepAlive` sends `KeepAlive(backend)` to the controller (dropped while disconnected). */
  constructor(keepAlive: (backend: string) => void, options: ConnectionMonitorOptions = {}) {
    this.#keepAlive = keepAlive;
    this.#intervalMs = options.intervalMs ?? 7_000;
    this.#timers = options.timers ?? REAL_TIMERS;
  }

  /** A plain (non-upgrade) request reached the backend: its response head arrived. */
  touch(backend: string): void {
    this.#sighted(backend).hadRecentConnection = true;
  }

  /**
   * An upgraded connection to the backend opened; the returned function closes it (once;
   * later calls do nothing). Open connections keep the backend alive on every revisit.
   */
  openConnection(backend: string): () => void {
    const state = this.#sighted(backend);
    state.activeConnections++;
    state.hadRecentConnection = true;
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      // The entry may have been removed (BackendRemoved) or replaced meanwhile.
      if (this.#entries.get(backend) === state) state.activeConnections--;
    };
  }

  /** `BackendRemoved` (§7.3): stop sending keepalives for the backend. */
  remove(backend: string): void {
    const state = this.#entries.get(backend);
    if (state === undefined) return;
    this.#timers.clearTimeout(state.timer);
    this.#entries.delete(backend);
  }

  /** The monitor's view of a backend (a copy), or undefined when it is not tracked. */
  entry(backend: string): MonitorEntry | undefined {
    const state = this.#entries.get(backend);
    if (state === undefined) return undefined;
    return {
      activeConnections: state.activeConnections,
      hadRecentConnection: state.hadRecentConnection,
    };
  }

  /** Stops every revisit timer. */
  close(): void {
    for (const backend of [...this.#entries.keys()]) this.remove(backend);
  }

  #sighted(backend: string): State {
    let state = this.#entries.get(backend);
    if (state === undefined) {
      state = { activeConnections: 0, hadRecentConnection: false, timer: undefined };
      this.#entries.set(backend, state);
      this.#keepAlive(backend);
      this.#schedule(backend, state);
    }
    return state;
  }

  #schedule(backend: string, state: State) {
    state.timer = this.#timers.setTimeout(() => this.#revisit(backend, state), this.#intervalMs);
  }

  #revisit(backend: string, state: State) {
    if (this.#entries.get(backend) !== state) return;
    if (state.activeConnections > 0 || state.hadRecentConnection) {
      state.hadRecentConnection = false;
      this.#keepAlive(backend);
      this.#schedule(backend, state);
    } else {
      this.#entries.delete(backend);
    }
  }
}
