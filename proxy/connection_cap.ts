/**
 * A cap on open client connections, so that near the descriptor limit the proxy refuses new
 * clients cleanly (a 503 and a log line) instead of accepting them and then failing their
 * backend connects with EMFILE (issue 13: 19 of 10,000 WebSockets got a 502, nothing logged).
 * Every proxied connection holds two descriptors (client and backend), so the default cap is
 * half of what the soft `RLIMIT_NOFILE` leaves after a reserve for listeners, the controller
 * socket, certificate reloads and the refusals themselves.
 *
 * The count lives in a `SharedArrayBuffer`: the workers of one proxy (`worker_pool.ts`) are
 * threads of one process and share its descriptor table, so they share one count.
 */
import { ERROR_CONTENT_TYPE, errorBody } from "./error_body.ts";

/** Descriptors kept for everything that is not a proxied connection. */
export const DESCRIPTOR_RESERVE = 64;

/** The default cap for a soft descriptor limit: two descriptors per proxied connection. */
export function defaultMaxConnections(softDescriptorLimit: number): number {
  return Math.max(1, Math.floor((softDescriptorLimit - DESCRIPTOR_RESERVE) / 2));
}

/** The output of `ulimit -Sn`: the soft limit, or null when unlimited or unreadable. */
export function parseSoftDescriptorLimit(text: string): number | null {
  const trimmed = text.trim();
  return /^\d+$/.test(trimmed) ? Number(trimmed) : null;
}

/**
 * The count of open client connections against a limit. Each worker counts in its own slot of
 * one shared buffer (`slots` long) and compares the sum: a worker that dies takes its
 * connections with it, and the pool then zeroes its slot (`resetSlot`) so they are not counted
 * for ever. Two workers taking the last slot at once may both be refused (each sees the
 * other's increment), never both admitted past the limit.
 */
export class ConnectionCap {
  readonly limit: number;
  readonly #counts: Int32Array;
  readonly #slot: number;

  constructor(
    limit: number,
    options: { buffer?: SharedArrayBuffer; slot?: number; slots?: number } = {},
  ) {
    this.limit = limit;
    this.#counts = new Int32Array(
      options.buffer ?? new SharedArrayBuffer(4 * (options.slots ?? 1)),
    );
    this.#slot = options.slot ?? 0;
    if (this.#slot < 0 || this.#slot >= this.#counts.length) {
      throw new RangeError(`Connection cap slot ${this.#slot} out of ${this.#counts.length}`);
    }
  }

  /** The shared counts, to hand to another worker's cap. */
  get buffer(): SharedArrayBuffer {
    return this.#counts.buffer as SharedArrayBuffer;
  }

  /** Open connections across every slot. */
  get open(): number {
    let total = 0;
    for (let i = 0; i < this.#counts.length; i++) total += Atomics.load(this.#counts, i);
    return total;
  }

  /** Takes a slot for a new connection; false (and nothing taken) at the cap. */
  tryAcquire(): boolean {
    Atomics.add(this.#counts, this.#slot, 1);
    if (this.open <= this.limit) return true;
    Atomics.sub(this.#counts, this.#slot, 1);
    return false;
  }

  release(): void {
    Atomics.sub(this.#counts, this.#slot, 1);
  }

  /** Forgets the connections of a slot whose worker died (they were closed with it). */
  resetSlot(slot: number): void {
    Atomics.store(this.#counts, slot, 0);
  }
}

/** Why a refused client is refused, in the proxy's error body. */
export const REFUSED_MESSAGE =
  "The proxy is at its connection limit (each connection needs two file descriptors): retry " +
  "in a moment; the operator can raise the descriptor limit (ulimit -n) or --max-connections";

/**
 * What a refused client gets: a complete HTTP/1.1 503 with the proxy's one error body
 * (`error_body.ts`), `Retry-After` and `Connection: close`, written before the socket closes.
 */
export function refusedResponse(): Uint8Array {
  const body = new TextEncoder().encode(errorBody(503, REFUSED_MESSAGE));
  const head = new TextEncoder().encode(
    `HTTP/1.1 503 Service Unavailable\r\ncontent-type: ${ERROR_CONTENT_TYPE}\r\n` +
      `content-length: ${body.length}\r\nretry-after: 1\r\nconnection: close\r\n\r\n`,
  );
  const response = new Uint8Array(head.length + body.length);
  response.set(head);
  response.set(body, head.length);
  return response;
}
