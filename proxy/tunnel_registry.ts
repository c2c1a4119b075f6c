/**
 * Which token opened each upgraded connection (WebSocket tunnel), so that revoking a token
 * closes its tunnels (issue 10 finding 5; decisions.md §2.4 `TokenRevoked`). Plane 0.5 checks a
 * token only when a request arrives, so a tunnel outlived its revocation for as long as it stayed
 * open.
 *
 * `BackendRemoved` (a backend terminating) closes nothing here: tunnels already open stay until
 * the backend exits and closes them itself.
 */

/** Revoked tokens remembered, so a tunnel opening just after its token's revocation is closed. */
const DEFAULT_REVOKED_CAPACITY = 10_000;
/**
 * How long a revoked token is remembered: far longer than a route decision can wait for the
 * backend's 101 (its connect times out in 10 s, plane-0.5.md §7.2 step 8), and short enough that a proxy
 * does not hold every one of the last 10,000 revoked tokens (the soak counted that as growth).
 */
const DEFAULT_REVOKED_MEMORY_MS = 5 * 60_000;

export interface TunnelRegistryOptions {
  /** How many revoked tokens to remember (default 10,000; tokens are never reused). */
  revokedCapacity?: number | undefined;
  /** How long a revoked token is remembered (default 5 minutes). */
  revokedMemoryMs?: number | undefined;
  /** Runs `close` later; a tunnel cannot be closed while it is being opened (default: a microtask). */
  defer?: (fn: () => void) => void;
  now?: () => number;
}

export class TunnelRegistry {
  readonly #byToken = new Map<string, Set<() => void>>();
  /** Token → when it was revoked, oldest first. */
  readonly #revoked = new Map<string, number>();
  readonly #revokedCapacity: number;
  readonly #revokedMemoryMs: number;
  readonly #defer: (fn: () => void) => void;
  readonly #now: () => number;

  constructor(options: TunnelRegistryOptions = {}) {
    this.#revokedCapacity = options.revokedCapacity ?? DEFAULT_REVOKED_CAPACITY;
    this.#revokedMemoryMs = options.revokedMemoryMs ?? DEFAULT_REVOKED_MEMORY_MS;
    this.#defer = options.defer ?? queueMicrotask;
    this.#now = options.now ?? Date.now;
  }

  /**
   * A tunnel opened with `token`; `close` ends it. Returns the function to call once it has
   * closed (once; later calls do nothing). A token revoked between the route decision and the
   * backend's 101 has its tunnel closed at once.
   */
  open(token: string, close: () => void): () => void {
    const revokedAt = this.#revoked.get(token);
    if (revokedAt !== undefined && this.#now() - revokedAt < this.#revokedMemoryMs) {
      this.#defer(close);
      return () => {};
    }
    let tunnels = this.#byToken.get(token);
    if (tunnels === undefined) {
      tunnels = new Set();
      this.#byToken.set(token, tunnels);
    }
    tunnels.add(close);
    const set = tunnels;
    return () => {
      if (!set.delete(close)) return;
      if (set.size === 0 && this.#byToken.get(token) === set) this.#byToken.delete(token);
    };
  }

  /** `TokenRevoked`: closes every tunnel the token opened and any it opens from now on. */
  revoke(token: string): number {
    const now = this.#now();
    this.#revoked.delete(token);
    this.#revoked.set(token, now);
    // Insertion order is revocation order: the first entry is the oldest.
    for (const [old, at] of this.#revoked) {
      if (this.#revoked.size <= this.#revokedCapacity && now - at < this.#revokedMemoryMs) break;
      this.#revoked.delete(old);
    }
    const tunnels = this.#byToken.get(token);
    if (tunnels === undefined) return 0;
    this.#byToken.delete(token);
    for (const close of tunnels) close();
    return tunnels.size;
  }

  /** Revoked tokens remembered (tests, bounds). */
  get revokedCount(): number {
    return this.#revoked.size;
  }

  /** Open tunnels of a token (observability and tests). */
  count(token: string): number {
    return this.#byToken.get(token)?.size ?? 0;
  }
}
