/**
 * Log tails of backends that have ended (issue 11, finding 5): kept for a bounded time and
 * count so `logs` still answers just after an exit, then released. A drone that runs backends
 * for weeks holds at most `maxCount` ended tails (each at most a `LogTail`'s bytes).
 */
import type { LogLine } from "./executor.ts";
import type { LogTail } from "./log_tail.ts";

/** How long an ended backend's tail stays readable. */
export const ENDED_TAIL_RETENTION_MS = 10 * 60_000;
/** At most this many ended tails are kept; the oldest goes first. */
export const MAX_ENDED_TAILS = 100;

export class EndedTails {
  /** Insertion order is end order, so the first entry is always the oldest. */
  #tails = new Map<string, { tail: LogTail; endedAt: number }>();
  readonly #retentionMs: number;
  readonly #maxCount: number;
  readonly #now: () => number;

  constructor(
    options: { retentionMs?: number; maxCount?: number; now?: () => number } = {},
  ) {
    this.#retentionMs = options.retentionMs ?? ENDED_TAIL_RETENTION_MS;
    this.#maxCount = options.maxCount ?? MAX_ENDED_TAILS;
    this.#now = options.now ?? Date.now;
  }

  /** Keeps `tail` of a backend that just ended, releasing the expired and the excess. */
  add(backendId: string, tail: LogTail): void {
    this.#tails.delete(backendId);
    this.#tails.set(backendId, { tail, endedAt: this.#now() });
    this.#evict();
  }

  /** The ended backend's lines, or null when it is unknown or released. */
  lines(backendId: string): LogLine[] | null {
    this.#evict();
    return this.#tails.get(backendId)?.tail.lines() ?? null;
  }

  get size(): number {
    return this.#tails.size;
  }

  #evict() {
    const cutoff = this.#now() - this.#retentionMs;
    for (const [id, { endedAt }] of this.#tails) {
      if (this.#tails.size <= this.#maxCount && endedAt >= cutoff) break;
      this.#tails.delete(id);
    }
  }
}
