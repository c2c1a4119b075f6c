/**
 * The one retry schedule: a wait that starts at `initialMs`, grows by `factor` after each use up
 * to `maxMs`, and starts over on `reset()`. Plane's sockets and terminate retries use 1 s × 1.1
 * up to 60 s (plane-0.5.md §1.3, §4.4); the database listener and certificate orders double.
 */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** Growth per attempt (default 2). */
  factor?: number;
}

export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #factor: number;
  #currentMs: number;

  constructor(options: BackoffOptions) {
    this.#initialMs = options.initialMs;
    this.#maxMs = options.maxMs;
    this.#factor = options.factor ?? 2;
    this.#currentMs = Math.min(options.initialMs, options.maxMs);
  }

  /** The wait to use now (whole milliseconds); the next call returns a longer one, up to the cap. */
  next(): number {
    const wait = Math.round(this.#currentMs);
    this.#currentMs = Math.min(this.#currentMs * this.#factor, this.#maxMs);
    return wait;
  }

  /** Starts over at `initialMs` (after a success, or a connection that stayed up). */
  reset(): void {
    this.#currentMs = Math.min(this.#initialMs, this.#maxMs);
  }
}
