/**
 * How much a socket peer may send ahead of the controller's processing (issue 11, finding 1).
 * Messages of one peer are handled strictly in order (plane-0.5.md §6.1), so a burst queues.
 * Plane bounds the queue at 1,024 messages (plane-0.5.md §1.3) and we used to close the socket past
 * that: a drone that was only busy (a burst of spawns, a replayed outbox) was closed, reconnected,
 * replayed and was closed again, forever. A WebSocket cannot be paused from
 * `Deno.upgradeWebSocket`, so the controller drains its queue at its own pace instead, and closes a
 * peer only when it is truly misbehaving: its queue passes a memory bound no well-behaved peer
 * reaches, or nothing was processed for a long time while messages wait (a stuck handler). Either
 * way the reason is logged. Pure bookkeeping; the socket session supplies the clock and does the
 * closing.
 */

/**
 * Bytes of queued, unprocessed messages per connection. A drone keeps at most `OUTBOX_WINDOW`
 * (100) state events unacked; the rest of what it sends (an ack per action, a heartbeat every
 * 7 s, metrics and key renewals per backend) is a few hundred bytes each, so even with 10,000
 * backends a busy drone queues a few MiB. Past this it floods, and memory is at stake.
 */
export const MAX_QUEUED_BYTES = 64 * 1024 * 1024;
/**
 * A queue that has not moved for this long is stuck (a database call that never returns): the
 * socket is closed so the peer reconnects, maybe to another controller. Busy is not stuck: each
 * message takes milliseconds, so progress is seen long before this.
 */
export const STALL_TIMEOUT_MS = 60_000;

export type Admission = { ok: true } | { ok: false; reason: string };

export class InboundQueue {
  readonly #maxBytes: number;
  readonly #stallMs: number;
  #messages = 0;
  #bytes = 0;
  /** When a message last finished, or when the queue last went from empty to busy. */
  #progressAt: number;

  constructor(now: number, limits: { maxBytes?: number; stallMs?: number } = {}) {
    this.#maxBytes = limits.maxBytes ?? MAX_QUEUED_BYTES;
    this.#stallMs = limits.stallMs ?? STALL_TIMEOUT_MS;
    this.#progressAt = now;
  }

  get messages(): number {
    return this.#messages;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** A message of `bytes` arrived: queue it, or say why the peer must be disconnected. */
  admit(bytes: number, now: number): Admission {
    if (this.#bytes + bytes > this.#maxBytes) {
      return {
        ok: false,
        reason: `Peer queued more than ${this.#maxBytes} bytes of messages ahead of processing`,
      };
    }
    if (this.#messages === 0) this.#progressAt = now;
    this.#messages++;
    this.#bytes += bytes;
    return { ok: true };
  }

  /** Queued without a bound (the close handler's clean-up must always run). */
  force(bytes: number, now: number): void {
    if (this.#messages === 0) this.#progressAt = now;
    this.#messages++;
    this.#bytes += bytes;
  }

  /** A queued message of `bytes` has been handled (successfully or not). */
  done(bytes: number, now: number): void {
    this.#messages = Math.max(0, this.#messages - 1);
    this.#bytes = Math.max(0, this.#bytes - bytes);
    this.#progressAt = now;
  }

  /** Why the peer should be disconnected for lack of progress, or null while all is well. */
  stalled(now: number): string | null {
    if (this.#messages === 0 || now - this.#progressAt < this.#stallMs) return null;
    return `No socket message processed for ${Math.round((now - this.#progressAt) / 1000)} s ` +
      `with ${this.#messages} waiting`;
  }
}
