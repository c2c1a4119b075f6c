/**
 * Time as a dependency: the drone's key deadlines are on its own clock (plane-0.5.md §5.3),
 * and tests drive them with `FakeClock` instead of waiting 40 seconds.
 */
export interface Clock {
  now(): number;
  /** Calls `fn` once the clock reaches `atMs`; returns a cancel function. */
  at(atMs: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  at(atMs, fn) {
    const timer = setTimeout(fn, Math.max(0, atMs - Date.now()));
    return () => clearTimeout(timer);
  },
};

/** A clock that only moves when a test calls `advance`. */
export class FakeClock implements Clock {
  #now: number;
  #timers = new Set<{ at: number; fn: () => void }>();

  constructor(startMs = 1_700_000_000_000) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  at(atMs: number, fn: () => void): () => void {
    const timer = { at: atMs, fn };
    this.#timers.add(timer);
    return () => this.#timers.delete(timer);
  }

  /** Moves time forward, firing due timers in time order. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      const due = [...this.#timers].filter((t) => t.at <= target).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.#timers.delete(due);
      this.#now = Math.max(this.#now, due.at);
      due.fn();
    }
    this.#now = target;
  }

  get pendingTimers(): number {
    return this.#timers.size;
  }
}
