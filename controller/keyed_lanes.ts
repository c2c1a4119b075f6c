/**
 * Runs tasks concurrently across keys but in order within a key, with at most `limit` running
 * (issue 11, finding 1). A drone's state events for different backends are independent; only
 * one backend's events must be applied in order (updates only move forward, plane-0.5.md §4.2).
 * Applying them one at a time (Plane, plane-0.5.md §6.1) made a burst of thousands of events take
 * minutes.
 */
export class KeyedLanes {
  readonly #limit: number;
  readonly #tails = new Map<string, Promise<void>>();
  #running = 0;
  #waiters: (() => void)[] = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(
        `Cannot make lanes with a limit of ${limit}: it must be a positive integer`,
      );
    }
    this.#limit = limit;
  }

  /** Tasks admitted and not finished. */
  get running(): number {
    return this.#running;
  }

  /**
   * Resolves once `task` is admitted (fewer than `limit` running): the caller's backpressure.
   * The task then runs after every earlier task of the same `key`; its errors go to `onError`.
   */
  async run(
    key: string,
    task: () => Promise<void>,
    onError: (err: unknown) => void,
  ): Promise<void> {
    while (this.#running >= this.#limit) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    this.#running++;
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const tail: Promise<void> = previous.then(task).catch(onError).finally(() => {
      this.#running--;
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
      this.#waiters.shift()?.();
    });
    this.#tails.set(key, tail);
  }

  /** Resolves once every admitted task has finished. */
  async idle(): Promise<void> {
    while (this.#tails.size > 0) await Promise.all([...this.#tails.values()]);
  }
}
