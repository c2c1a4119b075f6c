/**
 * Which of a drone's pending actions to send on its connection, and when (issue 11, finding 1).
 * Plane re-sends the 50 oldest unacked actions every 5 s (plane-0.5.md §6.1 steps 6–7): after a
 * burst, those resends raced acks still queued behind other messages (hundreds of "Ignoring a
 * repeated Spawn" per 1,000 spawns), while a backlog after a reconnect crept out at 50 per 5 s.
 * Here an action sent on this connection is sent again only once it is overdue: it waited a
 * full resend interval for its ack, and meanwhile the drone either acked nothing or acked an
 * action sent after it (the drone handles actions in arrival order, so it has passed this one
 * by: applying it failed). A drone that is only slow (a burst of spawns, each a fork) keeps
 * acking older actions, and the younger ones wait their turn instead of arriving twice. The
 * backlog is sent a window at a time, the next window as soon as acks have freed half of it.
 * Pure bookkeeping; `drone_connection.ts` does the I/O.
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
  /** Action id → when and in which order it was last sent on this connection, oldest first. */
  readonly #sent = new Map<string, { at: number; seq: number }>();
  #seq = 0;
  /** Highest send order of an acked action, and when the last ack came. */
  #ackedSeq = 0;
  #ackedAt: number;

  /** `now`: the connection's start (a drone that never acks is silent since then). */
  constructor(options: { resendAfterMs: number; now: number; size?: number }) {
    this.#resendAfterMs = options.resendAfterMs;
    this.#ackedAt = options.now;
    this.size = options.size ?? ACTION_WINDOW;
  }

  #overdue(entry: { at: number; seq: number }, now: number): boolean {
    if (now - entry.at < this.#resendAfterMs) return false;
    return entry.seq < this.#ackedSeq || now - this.#ackedAt >= this.#resendAfterMs;
  }

  /** False while `actionId` is in flight and not overdue: its ack is on its way. */
  shouldSend(actionId: string, now: number): boolean {
    const entry = this.#sent.get(actionId);
    return entry === undefined || this.#overdue(entry, now);
  }

  sent(actionId: string, now: number): void {
    this.#sent.delete(actionId); // Re-inserted last: the map stays in send order.
    this.#sent.set(actionId, { at: now, seq: ++this.#seq });
    if (this.#sent.size > MAX_TRACKED_ACTIONS) {
      const oldest = this.#sent.keys().next();
      if (!oldest.done) this.#sent.delete(oldest.value);
    }
  }

  /** The drone acked `actionId` (or it needs no ack any more). */
  acked(actionId: string, now: number): void {
    const entry = this.#sent.get(actionId);
    if (!entry) return;
    this.#sent.delete(actionId);
    this.#ackedSeq = Math.max(this.#ackedSeq, entry.seq);
    this.#ackedAt = now;
  }

  /**
   * Forgets overdue actions (a drone that did not apply them, or an action settled without an
   * ack): if still pending, the next read of the queue finds and re-sends them.
   */
  expire(now: number): void {
    for (const [id, entry] of this.#sent) {
      // Send order: once one is not overdue, no younger one is.
      if (!this.#overdue(entry, now)) break;
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
