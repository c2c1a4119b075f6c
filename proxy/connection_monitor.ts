/**
 * Which backends have traffic, told to the controller as keepalives (plane-0.5.md §7.5,
 * Plane `connection_monitor.rs`): the first sighting of a backend sends `KeepAlive` at once
 * and schedules a revisit in 7 s; a revisit sends another and reschedules while the backend
 * has open upgraded connections or saw a request since the last visit, and forgets it
 * otherwise. The idle sweeper on the controller (plane-0.5.md §6.7) feeds on these.
 *
 * Issue 13: the per-request cost is one increment. A route holds its backend's
 * `BackendCounter` (`sight()`), bumps `requests`, and the revisit compares the count with the
 * one it saw last; no map lookup, timer or closure per request.
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
  /** Revisit interval (plane-0.5.md §7.5: 7 s). */
  intervalMs?: number | undefined;
  timers?: MonitorTimers;
}

/** A tracked backend's traffic, as the revisit reads it. */
export interface BackendCounter {
  /** Requests counted so far; the holder increments it. */
  requests: number;
  /** False once the monitor forgot the backend: count on a fresh `sight()` instead. */
  readonly live: boolean;
}

interface State {
  requests: number;
  live: boolean;
  /** Open upgraded (WebSocket) connections. */
  activeConnections: number;
  /** `requests` at the last revisit. */
  seen: number;
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
    this.#sighted(backend).requests++;
  }

  /**
   * The backend's counter, tracking it from now on (the first sighting sends `KeepAlive` at
   * once, as `touch` does); the same object until the backend is forgotten (`live` false).
   */
  sight(backend: string): BackendCounter {
    return this.#sighted(backend);
  }

  /**
   * An upgraded connection to the backend opened; the returned function closes it (once;
   * later calls do nothing). Open connections keep the backend alive on every revisit.
   */
  openConnection(backend: string): () => void {
    const state = this.#sighted(backend);
    state.activeConnections++;
    state.requests++;
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      // The entry may have been removed (BackendRemoved) or replaced meanwhile.
      if (this.#entries.get(backend) === state) state.activeConnections--;
    };
  }

  /** `BackendRemoved` (plane-0.5.md §7.3): stop sending keepalives for the backend. */
  remove(backend: string): void {
    const state = this.#entries.get(backend);
    if (state === undefined) return;
    this.#timers.clearTimeout(state.timer);
    state.live = false;
    this.#entries.delete(backend);
  }

  /** The monitor's view of a backend (a copy), or undefined when it is not tracked. */
  entry(backend: string): MonitorEntry | undefined {
    const state = this.#entries.get(backend);
    if (state === undefined) return undefined;
    return {
      activeConnections: state.activeConnections,
      hadRecentConnection: state.requests !== state.seen,
    };
  }

  /** Stops every revisit timer. */
  close(): void {
    for (const backend of [...this.#entries.keys()]) this.remove(backend);
  }

  #sighted(backend: string): State {
    let state = this.#entries.get(backend);
    if (state === undefined) {
      state = { requests: 0, live: true, activeConnections: 0, seen: 0, timer: undefined };
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
    if (state.activeConnections > 0 || state.requests !== state.seen) {
      state.seen = state.requests;
      this.#keepAlive(backend);
      this.#schedule(backend, state);
    } else {
      state.live = false;
      this.#entries.delete(backend);
    }
  }
}
