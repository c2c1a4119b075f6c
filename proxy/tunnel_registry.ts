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

export interface TunnelRegistryOptions {
  /** How many revoked tokens to remember (default 10,000; tokens are never reused). */
  revokedCapacity?: number | undefined;
  /** Runs `close` later; a tunnel cannot be closed while it is being opened (default: a microtask). */
  defer?: (fn: () => void) => void;
}

export class TunnelRegistry {
  readonly #byToken = new Map<string, Set<() => void>>();
  readonly #revoked = new Set<string>();
  readonly #revokedCapacity: number;
  readonly #defer: (fn: () => void) => void;

  constructor(options: TunnelRegistryOptions = {}) {
    this.#revokedCapacity = options.revokedCapacity ?? DEFAULT_REVOKED_CAPACITY;
    this.#defer = options.defer ?? queueMicrotask;
  }

  /**
   * A tunnel opened with `token`; `close` ends it. Returns the function to call once it has
   * closed (once; later calls do nothing). A token revoked between the route decision and the
   * backend's 101 has its tunnel closed at once.
   */
  open(token: string, close: () => void): () => void {
    if (this.#revoked.has(token)) {
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
    this.#revoked.delete(token);
    this.#revoked.add(token);
    while (this.#revoked.size > this.#revokedCapacity) {
      this.#revoked.delete(this.#revoked.values().next().value as string);
    }
    const tunnels = this.#byToken.get(token);
    if (tunnels === undefined) return 0;
    this.#byToken.delete(token);
    for (const close of tunnels) close();
    return tunnels.size;
  }

  /** Open tunnels of a token (observability and tests). */
  count(token: string): number {
    return this.#byToken.get(token)?.size ?? 0;
  }
}
