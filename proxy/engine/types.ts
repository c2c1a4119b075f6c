/**
 * The contract between the proxy's byte-moving engine (`proxy/engine/`) and the Plane routing
 * logic (`proxy/`): the engine frames HTTP/1.1 itself on `node:net` sockets (targets.md §1: a
 * `fetch` relay reaches a quarter of nginx's throughput), asks `decide` what to do with each
 * request head, and relays bytes. Everything Plane-specific lives on the other side.
 */

/** A header as received: the original name casing is kept for forwarding. */
export type Header = readonly [name: string, value: string];

export interface RequestHead {
  method: string;
  /** The request target exactly as received (origin-form `/path?query`, or `*`, or absolute). */
  target: string;
  /** "1.0" or "1.1". */
  version: "1.0" | "1.1";
  headers: readonly Header[];
}

export interface ConnectionInfo {
  /** Peer address (for x-forwarded-for). */
  remoteAddress: string;
  /** True on the TLS listener (for x-forwarded-proto). */
  tls: boolean;
}

export interface ForwardDecision {
  kind: "forward";
  /** Where to send it: the backend's address. */
  hostname: string;
  port: number;
  /** The head to send upstream: rewritten target and headers (the engine adds nothing). */
  head: RequestHead;
  /** Rewrites the upstream response's headers before they reach the client (CORS, Server, ids). */
  responseHeaders?(status: number, headers: readonly Header[]): Header[];
  /** Called once when the upstream response head arrives (the connection monitor's touch). */
  onResponse?(status: number): void;
  /**
   * Called when the request is an upgrade and the backend answered 101: the engine then splices
   * both sockets; the returned function is called once when either side closes. `close` ends the
   * tunnel (both sockets) from outside, e.g. when the token that opened it is revoked; call it
   * after `onUpgrade` has returned.
   */
  onUpgrade?(close?: () => void): () => void;
}

export interface RespondDecision {
  kind: "respond";
  status: number;
  headers: readonly Header[];
  body?: string;
}

export type Decision = ForwardDecision | RespondDecision;

export interface EngineLimits {
  /** Largest request head in bytes (request line + headers); beyond it → 431, close. */
  maxHeadBytes: number;
  /** Time allowed to receive a complete head, from its first byte (slowloris) → 408, close. */
  headTimeoutMs: number;
  /**
   * Longest a request body may go without a byte arriving while the engine is reading it (an
   * inactivity limit, not a total: a slow upload that keeps moving is never cut; time paused
   * for backpressure does not count) → 408 if nothing was answered yet, and both connections
   * close (issue 10, finding 6).
   */
  bodyTimeoutMs: number;
  /** Idle keep-alive connection lifetime with no request in progress. */
  idleTimeoutMs: number;
  /** TCP connect timeout to the backend → 502 (Plane: 10 s, #837). */
  connectTimeoutMs: number;
}

export interface EngineErrorResponse {
  headers: readonly Header[];
  body: string;
}

export interface EngineOptions {
  decide(head: RequestHead, connection: ConnectionInfo): Decision | Promise<Decision>;
  limits?: Partial<EngineLimits>;
  /**
   * Headers and body of a response the engine generates itself (400, 408, 431, 502, …);
   * `reason` is the engine's short description of the problem ("bare LF", "body timeout");
   * `head` is the request's when one was parsed (a 502, a body timeout), absent for framing
   * errors. Without it these responses are empty.
   */
  errorResponse?(status: number, reason: string, head?: RequestHead): EngineErrorResponse;
  /**
   * Request trailer fields (chunked bodies, RFC 9112 §7.1.2) for whose name this returns true
   * are not forwarded: the proxy's identity fields must not arrive as trailers either.
   */
  dropRequestTrailer?(name: string): boolean;
  /**
   * A backend connection could not be opened (the request is answered 502): lets the caller
   * log what the 502 cannot say, such as running out of file descriptors (issue 13).
   */
  onConnectError?(err: unknown): void;
}
