/**
 * Flow control for the drone's outbox (issue 11, finding 1): at most `size` state events are
 * sent and not yet acked on one controller connection; the next ones go out as acks come back.
 * Plane replays the whole outbox at once (plane-0.5.md §6.4 step 5, §9); after a burst
 * that was thousands of events, more than the controller would queue, so it closed the socket, the
 * drone reconnected and replayed it all again, forever. A window keeps the controller's queue short
 * whatever the backlog, and costs nothing when events are acked as they are made.
 */

/**
 * Unacked state events in flight per connection. The controller records an event in a few
 * milliseconds, so 100 is well under a second of its work (its queue stays short and heartbeats
 * behind it stay timely), yet enough to keep a link with a 100 ms round trip busy at
 * 1,000 events/s.
 */
export const OUTBOX_WINDOW = 100;

/** Which events are in flight on the current connection; pure bookkeeping, no I/O. */
export class OutboxWindow {
  readonly size: number;
  readonly #inFlight = new Set<number>();

  constructor(size: number = OUTBOX_WINDOW) {
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(
        `Cannot make an outbox window of ${size}: it must be a positive integer`,
      );
    }
    this.size = size;
  }

  /** How many more events may be sent now. */
  get room(): number {
    return Math.max(0, this.size - this.#inFlight.size);
  }

  /** Ids sent and not acked yet (excluded from the next read of the outbox). */
  get inFlight(): number[] {
    return [...this.#inFlight];
  }

  sent(eventId: number): void {
    this.#inFlight.add(eventId);
  }

  /** The controller acked `eventId`; false if it was not in flight (sent on an older connection). */
  acked(eventId: number): boolean {
    return this.#inFlight.delete(eventId);
  }
}
