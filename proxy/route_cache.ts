/**
 * Token → route lookups for the proxy (plane-0.5.md §7.3, decisions.md §2.10):
 * an LRU of 1,000 tokens holding the controller's answers, negative ones included; one pending
 * lookup (and one `RouteInfoRequest`) per token however many requests wait on it; every wait
 * bounded (Plane's had none, so a lost answer hung the browser); pending tokens re-asked after
 * each reconnect; `BackendRemoved` and `TokenRevoked` turn cached routes into 410s, and an
 * answer the controller read just before either (and sent just after it) cannot bring the
 * route back (issue 10 finding 5).
 */
import type { RouteInfo } from "../shared/mod.ts";
import type { RouteResult } from "./request.ts";
import { prepareRoute } from "./prepared_route.ts";

export interface RouteCacheOptions {
  /** Cached tokens (plane-0.5.md §7.3: 1,000). */
  capacity?: number | undefined;
  /** Longest a request waits for a pending route before 504 (decisions.md §2.10: 5 min). */
  waitMs?: number | undefined;
  /**
   * Age after which a cached route is re-asked in the background on its next hit. The
   * controller refuses expired (1 h) tokens at lookup (decisions.md §2.4), so this is how a cached
   * token stops working once it expires; the request itself is served from the cache, with
   * no round trip (targets.md §3).
   */
  revalidateMs?: number | undefined;
  now?: () => number;
}

/** Sends `RouteInfoRequest {token}`; false when the controller connection is down. */
export type RequestRoute = (token: string) => boolean;

interface Entry {
  route: RouteInfo | null;
  /**
   * What a hit answers: built once when the route is stored, with the route's per-request
   * constants (`prepared_route.ts`, issue 13), so a hit allocates nothing.
   */
  found: RouteResult | null;
  /** When the answer arrived or was last re-asked (for revalidation). */
  at: number;
}

type Waiter = (result: RouteResult) => void;

/** Revoked tokens (and removed backends) remembered against late answers, at most. */
const REVOKED_CAPACITY = 10_000;
/**
 * How long a revoked token's or a removed backend's late answers are refused: far longer than
 * an answer can be in flight, far shorter than the days before a cleaned-up backend id could be
 * chosen again. Revoked tokens are forgotten after it too, not only past the capacity: with the
 * count alone, every proxy (every worker) held the last 10,000 revoked tokens, memory that grew
 * with each terminated backend for the first 10,000 and showed as growth in the soak.
 */
const REMOVED_MEMORY_MS = 5 * 60_000;

const GONE: RouteResult = Object.freeze({ kind: "gone" });

/** Route cache activity since start (the proxy's metrics). */
export interface RouteCacheCounters {
  /** Lookups answered from the cache (negative answers included). */
  hits: number;
  /** Lookups that had to wait for (or could not ask) the controller. */
  misses: number;
  /** Tokens dropped to stay within capacity. */
  evictions: number;
}

export class RouteCache {
  readonly counters: RouteCacheCounters = { hits: 0, misses: 0, evictions: 0 };
  readonly #entries = new Map<string, Entry>();
  readonly #pending = new Map<string, Set<Waiter>>();
  /** Token → when `TokenRevoked` arrived, oldest first. */
  readonly #revoked = new Map<string, number>();
  /** Backend id → when `BackendRemoved` arrived, oldest first. */
  readonly #removed = new Map<string, number>();
  readonly #request: RequestRoute;
  readonly #capacity: number;
  readonly #waitMs: number;
  readonly #revalidateMs: number;
  readonly #now: () => number;
  /** The most recently used token (the Map's last key), or null. */
  #newest: string | null = null;
  #everConnected = false;
  #closed = false;

  constructor(request: RequestRoute, options: RouteCacheOptions = {}) {
    this.#request = request;
    this.#capacity = options.capacity ?? 1_000;
    this.#waitMs = options.waitMs ?? 5 * 60_000;
    this.#revalidateMs = options.revalidateMs ?? 60_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The route for `token`: synchronous on a cache hit, otherwise a promise that settles when
   * the controller answers or the wait limit passes. Before the first connection there is no
   * one to ask, so the answer is "gone" at once (Plane: no sender yet → 410).
   */
  lookup(token: string): RouteResult | Promise<RouteResult> {
    const entry = this.#entries.get(token);
    if (entry !== undefined) {
      this.counters.hits++;
      // Re-insert: a Map iterates in insertion order, so the first key is the least recent.
      // Already the newest (a session's requests in a row): nothing to move.
      if (this.#newest !== token) {
        this.#entries.delete(token);
        this.#entries.set(token, entry);
        this.#newest = token;
      }
      if (entry.found === null) return GONE;
      if (this.#now() - entry.at >= this.#revalidateMs && this.#request(token)) {
        entry.at = this.#now();
      }
      return entry.found;
    }
    this.counters.misses++;
    if (!this.#everConnected || this.#closed) return GONE;
    let waiters = this.#pending.get(token);
    if (waiters === undefined) {
      waiters = new Set();
      this.#pending.set(token, waiters);
      // If the link is down the request is sent on reconnect (`connected()`).
      this.#request(token);
    }
    const shared = waiters;
    return new Promise<RouteResult>((resolve) => {
      const waiter: Waiter = (result) => {
        clearTimeout(timer);
        resolve(result);
      };
      const timer = setTimeout(() => {
        shared.delete(waiter);
        // Nobody waits any more: forget the token (a late answer is still cached).
        if (shared.size === 0 && this.#pending.get(token) === shared) this.#pending.delete(token);
        resolve({ kind: "timeout" });
      }, this.#waitMs);
      shared.add(waiter);
    });
  }

  /** A `RouteInfoResponse`: caches the answer and wakes every request waiting for it. */
  answer(token: string, answered: RouteInfo | null): void {
    const route = answered !== null && this.#isDead(token, answered) ? null : answered;
    this.#settle(token, this.#store(token, route).found ?? GONE);
  }

  /** `BackendRemoved` (plane-0.5.md §7.3): every cached token of that backend now answers 410. */
  backendRemoved(backend: string): void {
    remember(this.#removed, backend, this.#now());
    for (const entry of this.#entries.values()) {
      if (entry.route?.backend_id === backend) {
        entry.route = null;
        entry.found = null;
      }
    }
  }

  /** `TokenRevoked` (decisions.md §2.4): the token answers 410 from now on, waits included. */
  tokenRevoked(token: string): void {
    remember(this.#revoked, token, this.#now());
    this.#store(token, null);
    this.#settle(token, { kind: "gone" });
  }

  /**
   * The controller connection is up (first time or again): lookups may ask from now on, and
   * every pending token is asked again, since an answer owed by the previous connection is
   * lost with it (decisions.md §2.10).
   */
  connected(): void {
    this.#everConnected = true;
    for (const token of this.#pending.keys()) this.#request(token);
  }

  /** Tokens with requests waiting for an answer. */
  pendingTokens(): string[] {
    return [...this.#pending.keys()];
  }

  /** The cached answer for a token (undefined when not cached), without touching the LRU order. */
  peek(token: string): RouteInfo | null | undefined {
    return this.#entries.get(token)?.route;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Revoked tokens and removed backends remembered against late answers (tests, bounds). */
  get remembered(): number {
    return this.#revoked.size + this.#removed.size;
  }

  /** Ends every wait with "timeout" (the proxy is shutting down) and refuses new lookups. */
  close(): void {
    this.#closed = true;
    for (const token of [...this.#pending.keys()]) this.#settle(token, { kind: "timeout" });
  }

  /** A route the controller may have read before its token was revoked or its backend removed. */
  #isDead(token: string, route: RouteInfo): boolean {
    return recent(this.#revoked.get(token), this.#now()) ||
      recent(this.#removed.get(route.backend_id), this.#now());
  }

  #store(token: string, route: RouteInfo | null): Entry {
    const found: RouteResult | null = route === null
      ? null
      : { kind: "found", route, prepared: prepareRoute(token, route) };
    const entry: Entry = { route, found, at: this.#now() };
    this.#entries.delete(token);
    this.#entries.set(token, entry);
    this.#newest = token;
    while (this.#entries.size > this.#capacity) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
      this.counters.evictions++;
    }
    return entry;
  }

  #settle(token: string, result: RouteResult) {
    const waiters = this.#pending.get(token);
    if (waiters === undefined) return;
    this.#pending.delete(token);
    for (const waiter of waiters) waiter(result);
  }
}

/** Records `key` as dead at `now`, dropping what is older than the memory or past the capacity. */
function remember(dead: Map<string, number>, key: string, now: number): void {
  dead.delete(key);
  dead.set(key, now);
  // Insertion order is arrival order, so the first entry is always the oldest.
  for (const [old, at] of dead) {
    if (dead.size <= REVOKED_CAPACITY && now - at < REMOVED_MEMORY_MS) break;
    dead.delete(old);
  }
}

function recent(at: number | undefined, now: number): boolean {
  return at !== undefined && now - at < REMOVED_MEMORY_MS;
}
