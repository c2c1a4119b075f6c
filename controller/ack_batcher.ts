/**
 * Records a drone's action acks in batches, outside its ordered message queue (issue 11,
 * finding 1). An ack only marks an action done, so acks commute with everything else the drone
 * says; one update per ack, in line with the state events, made a burst's acks wait behind
 * thousands of events until the resends raced them. While a batch is being written, the next
 * acks gather for the one after it.
 */
import type { Logger } from "../shared/mod.ts";

/** Acks per database update at most. */
export const ACK_BATCH_MAX = 1_000;

export class AckBatcher {
  readonly #record: (actionIds: string[]) => Promise<void>;
  readonly #log: Logger;
  #buffer: string[] = [];
  #flushing: Promise<void> | null = null;

  /** `record` writes one batch; a failure is logged and those actions are re-sent later. */
  constructor(record: (actionIds: string[]) => Promise<void>, log: Logger) {
    this.#record = record;
    this.#log = log;
  }

  add(actionId: string): void {
    this.#buffer.push(actionId);
    this.#flushing ??= this.#flush();
  }

  async #flush(): Promise<void> {
    // Let the acks that arrived in the same burst of socket messages join this batch.
    await Promise.resolve();
    try {
      while (this.#buffer.length > 0) {
        const batch = this.#buffer.splice(0, ACK_BATCH_MAX);
        try {
          await this.#record(batch);
        } catch (err) {
          this.#log.error("Could not record action acks; the actions will be re-sent", {
            err,
            count: batch.length,
          });
        }
      }
    } finally {
      this.#flushing = null;
    }
  }

  /** Resolves once every ack added so far has been written (or failed). */
  async idle(): Promise<void> {
    while (this.#flushing) await this.#flushing;
  }
}
