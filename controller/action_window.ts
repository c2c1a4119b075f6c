/**
 * Which of a drone's pending actions to send on its connection, and when (issue 11, finding 1).
 * Plane re-sends the 50 oldest unacked actions every 5 s (behaviour doc §6.1 steps 6–7): after a
 * burst, those resends raced acks still queued behind other messages (hundreds of "Ignoring a
 * repeated Spawn" per 1,000 spawns), while a backlog after a reconnect crept out at 50 per 5 s.
 * Here an action sent on this connection is not sent again until it has waited a full resend
 * interval for its ack, and the backlog is sent a window at a time, the next window as soon as
 * acks have freed half of it. Pure bookkeeping; `drone_connection.ts` does the I/O.
 */

/**
 * Backlog actions in flight (sent, not acked) per connection. A drone acks a Spawn as soon as it
 * has started the backend manager, so 100 keep it busy without a resend storm; live actions
 * (connects, terminates) are sent as they happen and count against the window too.
 */
export const ACTION_WINDOW = 100;
/** Actions tracked per connection at most; the oldest are forgotten first (and may be re-sent). */
export const MAX_TRACKED_ACTIONS = 20_000;

export class ActionWindow {
  readonly size: number;
  readonly #resendAfterMs: number;
  /** Action id → when it was last sent on this connection, oldest first. */
  readonly #sent = new Map<string, number>();

  constructor(options: { resendAfterMs: number; size?: number }) {
    this.#resendAfterMs = options.resendAfterMs;
    this.size = options.size ?? ACTION_WINDOW;
  }

  /** False while `actionId` was sent less than a resend interval ago: its ack is on its way. */
  shouldSend(actionId: string, now: number): boolean {
    const at = this.#sent.get(actionId);
    return at === undefined || now - at >= this.#resendAfterMs;
  }

  sent(actionId: string, now: number): void {
    this.#sent.delete(actionId); // Re-inserted last: the map stays in send order.
    this.#sent.set(actionId, now);
    if (this.#sent.size > MAX_TRACKED_ACTIONS) {
      const oldest = this.#sent.keys().next();
      if (!oldest.done) this.#sent.delete(oldest.value);
    }
  }

  acked(actionId: string): void {
    this.#sent.delete(actionId);
  }

  /**
   * Forgets actions whose ack is overdue (a drone that did not apply them, or an action settled
   * without an ack): if still pending, the next read of the queue finds and re-sends them.
   */
  expire(now: number): void {
    for (const [id, at] of this.#sent) {
      if (now - at < this.#resendAfterMs) break; // Send order: the rest are younger.
      this.#sent.delete(id);
    }
  }

  /** Backlog actions that may be sent now. */
  get room(): number {
    return Math.max(0, this.size - this.#sent.size);
  }

  /** Whether enough acks came back to send the next part of a backlog. */
  get wantsMore(): boolean {
    return this.#sent.size <= this.size / 2;
  }

  /** Ids in flight, which a read of the pending queue skips. */
  get inFlight(): string[] {
    return [...this.#sent.keys()];
  }
}
