/**
 * One request/response exchange on a client connection: carry out the decision, stream the
 * request body with the framing the parser determined, parse the upstream response head,
 * stream the response back with framing fit for the client, and hand both connections back
 * (or, after a 101, to a `Tunnel`). Body framing lives in `_body.ts`.
 */
import { Buffer } from "node:buffer";
import type { Core } from "./_core.ts";
import type { ClientConnection } from "./_client.ts";
import type { ParsedHead } from "./parse_head.ts";
import { parseResponseHead } from "./parse_response_head.ts";
import type { ParsedResponseHead } from "./parse_response_head.ts";
import { clientFraming, MAX_RESPONSE_HEAD, RequestBody, ResponseBody } from "./_body.ts";
import { PAUSE_UPSTREAM, Tunnel } from "./_tunnel.ts";
import type { UpstreamConnection, UpstreamOwner } from "./_upstream.ts";
import {
  appendFields,
  coalesced,
  errorBytes,
  findField,
  headBytes,
  requestHeadBytes,
  spliceHead,
  statusLine,
  validRequestLine,
} from "./_write_head.ts";
import type { Decision, ForwardDecision, Header, RespondDecision } from "./types.ts";
import { observe } from "../../shared/mod.ts";

const RETRY_COUNTERS = { droppedHeaders: 0 };

const enum Res {
  /** Waiting for (more of) the response head. */
  Head,
  /** A length-delimited or chunked body (`#body`). */
  Body,
  /** A body delimited by the backend closing. */
  Close,
  Done,
}

export class Exchange implements UpstreamOwner {
  readonly client: ClientConnection;
  readonly core: Core;
  readonly req: ParsedHead;
  decision: ForwardDecision | null = null;
  up: UpstreamConnection | null = null;

  // Request body.
  reqDone: boolean;
  #reqBody: RequestBody | null = null;
  /** Respond decisions read and drop the body to keep the connection in step. */
  #discard = false;

  // Upstream attempt.
  #retried = false;
  #wasReused = false;
  #gotUpstreamBytes = false;

  // Response.
  #res = Res.Head;
  /** Response-head bytes received so far. */
  #resBuf: Buffer | null = null;
  #body: ResponseBody | null = null;
  /** Upstream may be reused after this response. */
  #upReusable = false;
  /** Client may send another request after this response. */
  #clientKeep = false;
  headSent = false;
  #finished = false;
  /** When the head was parsed (`performance.now()`), for the duration histogram. */
  readonly #startedAt: number;

  constructor(client: ClientConnection, core: Core, req: ParsedHead) {
    this.#startedAt = performance.now();
    this.client = client;
    this.core = core;
    this.req = req;
    this.reqDone = req.bodyKind === "none";
    if (!this.reqDone) {
      this.#reqBody = new RequestBody(
        req.bodyKind,
        core.limits.maxHeadBytes,
        core.options.dropRequestTrailer,
      );
    }
  }

  /** Carries out `decide`'s answer. */
  start(decision: Decision): void {
    if (this.client.closed) return;
    // The body is read from now on: its inactivity limit counts from here, not from the head.
    this.client.bodyProgress();
    if (decision.kind === "respond") this.#respond(decision);
    else this.#forward(decision);
  }

  /** `decide` threw or rejected: a bug on the routing side, answered 500. */
  failed(): void {
    if (this.client.closed) return;
    this.#engineError(500, false, "routing failed");
  }

  // ---- respond ----------------------------------------------------------------------------

  #respond(d: RespondDecision): void {
    const status = d.status;
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      this.#engineError(500, false, "invalid status from routing");
      return;
    }
    const body = d.body ?? "";
    const noBody = this.req.head.method === "HEAD" || status === 204 || status === 304;
    const length = Buffer.byteLength(body);
    this.#clientKeep = this.req.keepAlive && !this.core.closing;
    let head = statusLine(status) + appendFields(d.headers, this.core.stats, false);
    if (status !== 204) head += "Content-Length: " + length + "\r\n";
    head += this.#connectionField() + "\r\n";
    const bytes = noBody || length === 0 ? null : Buffer.from(body);
    this.#writeHead(head, bytes);
    this.headSent = true;
    this.core.stats.responses[status / 100 | 0]!++;
    this.#res = Res.Done;
    this.#discard = true;
    this.pumpRequestBody();
    if (this.reqDone) this.#finish();
  }

  // ---- forward ----------------------------------------------------------------------------

  #forward(d: ForwardDecision): void {
    const head = d.head;
    if (!validRequestLine(head.method, head.target)) {
      this.#engineError(500, false, "invalid request line from routing");
      return;
    }
    this.decision = d;
    this.#connect(false);
  }

  #connect(fresh: boolean): void {
    const d = this.decision!;
    const up = this.core.pool.acquire(d.hostname, d.port, this, fresh);
    this.up = up;
    this.#wasReused = up.reused;
    // Writes made in this tick (head, first body bytes) leave in one segment: see _conn_stream.ts.
    // Built again for a retry rather than kept: a head pins the slab it was cut from
    // (_write_head.ts), and a response may be awaited for a long time. Fields it drops were
    // counted the first time.
    up.write(requestHeadBytes(this.req, d, fresh ? RETRY_COUNTERS : this.core.stats));
    this.pumpRequestBody();
  }

  /** Moves request-body bytes from the client buffer upstream (or drops them), by framing. */
  pumpRequestBody(): void {
    // Before the decision there is nowhere to send the bytes: they wait in the buffer.
    if (this.reqDone || (this.up === null && !this.#discard)) return;
    let left = this.client.buf;
    if (left === null) return;
    const body = this.#reqBody!;
    do {
      const buf: Buffer = left;
      const n = body.take(buf);
      if (n === -1) {
        this.#requestFramingError();
        return;
      }
      if (n > 0) this.#writeUp(n === buf.length ? buf : buf.subarray(0, n));
      // A dropped trailer line: its bytes are consumed, and what follows is taken again.
      const used = n + body.skipped;
      left = used === buf.length ? null : buf.subarray(used);
    } while (body.skipped > 0 && left !== null && !body.done);
    this.client.buf = left;
    this.client.checkBuffer();
    if (body.done) this.#requestDone();
    else if (left !== null && left.length > 2 * this.core.limits.maxHeadBytes) {
      // Cannot happen with the decoder's line limits; a guard against holding bytes forever.
      this.#requestFramingError();
    }
  }

  #writeUp(bytes: Buffer): void {
    if (this.#discard) return;
    const up = this.up;
    if (up === null) return;
    if (!up.write(bytes)) this.client.pause(PAUSE_UPSTREAM);
  }

  #requestDone(): void {
    this.reqDone = true;
    if (this.#res === Res.Done) this.#finish();
  }

  /** RFC 9112 §7.1: a chunked body we cannot frame; nothing past the last valid byte was sent. */
  #requestFramingError(): void {
    this.core.stats.rejected++;
    this.#dropUpstream();
    if (!this.headSent) this.#engineError(400, true, this.#reqBody!.error);
    else this.client.destroy();
  }

  onUpstreamDrain(): void {
    this.client.resume(PAUSE_UPSTREAM);
  }

  // ---- response ---------------------------------------------------------------------------

  onUpstreamData(chunk: Buffer): void {
    this.#gotUpstreamBytes = true;
    // A response still streaming keeps a full-duplex exchange alive.
    this.client.bodyProgress();
    switch (this.#res) {
      case Res.Head: {
        this.#resBuf = this.#resBuf === null ? chunk : Buffer.concat([this.#resBuf, chunk]);
        this.#readResponseHead();
        return;
      }
      default:
        this.#responseBody(chunk);
    }
  }

  #readResponseHead(): void {
    for (;;) {
      const buf = this.#resBuf!;
      const r = parseResponseHead(buf, 0, {
        requestMethod: this.req.head.method,
        maxHeadBytes: MAX_RESPONSE_HEAD,
      });
      if (!r.ok) {
        if (r.incomplete) return;
        this.#badGateway();
        return;
      }
      const rest = r.consumed === buf.length ? null : buf.subarray(r.consumed);
      this.#resBuf = null;
      if (r.status === 101) {
        // RFC 9110 §15.2.2: only in answer to an Upgrade request.
        if (!this.req.upgrade) this.#badGateway();
        else this.#startTunnel(r, rest);
        return;
      }
      if (r.status < 200) {
        // RFC 9110 §15.2: interim responses go to HTTP/1.1 clients only.
        if (this.req.head.version === "1.1") {
          this.client.stream.write(headBytes(
            statusLine(r.status, r.reason) +
              appendFields(r.headers, this.core.stats, false, r.checked) +
              "\r\n",
            null,
          ));
        }
        if (rest === null) return;
        this.#resBuf = rest;
        continue;
      }
      this.#responseHead(r, rest);
      return;
    }
  }

  #responseHead(r: ParsedResponseHead, rest: Buffer | null): void {
    const d = this.decision!;
    let headers: readonly Header[] = r.headers;
    try {
      d.onResponse?.(r.status);
      if (d.responseHeaders !== undefined) headers = d.responseHeaders(r.status, headers);
    } catch {
      this.#badGateway();
      return;
    }
    const framing = clientFraming(r, this.req.head.method, this.req.head.version === "1.0");
    const kind = r.bodyKind;
    let whole = false;
    if (kind === "none") this.#res = Res.Done;
    else if (kind === "close") this.#res = Res.Close;
    else if (kind !== "chunked" && rest !== null && rest.length === kind.length) {
      // The common small response: its whole body came with the head, so no body state is
      // needed; it leaves with the head below.
      whole = true;
      this.#res = Res.Done;
    } else {
      this.#res = Res.Body;
      this.#body = new ResponseBody(
        kind,
        framing.dechunk ? (b, from, to) => this.#writeClient(b.subarray(from, to)) : undefined,
      );
    }
    this.#upReusable = r.keepAlive;
    this.#clientKeep = framing.selfDelimited && this.req.keepAlive && !this.core.closing &&
      !this.client.closeAfter;
    // The received status line is copied when it is already HTTP/1.1.
    const line = r.version === "1.1" ? null : statusLine(r.status, r.reason);
    const tail = framing.fields + this.#connectionField() + "\r\n";
    this.headSent = true;
    this.core.stats.responses[r.status / 100 | 0]!++;
    if (framing.dechunk) {
      // The head leaves first: decoded data goes to the client as it is validated.
      this.client.stream.write(spliceHead(r, line, headers, false, this.core.stats, tail, null));
      if (rest !== null) this.#responseBody(rest);
      return;
    }
    const first = whole || rest === null ? rest : this.#takeBody(rest);
    if (this.#body?.broken) return;
    this.client.stream.write(spliceHead(r, line, headers, false, this.core.stats, tail, first));
    if (first !== null && !coalesced(first)) this.#writeClient(first);
    if (this.#res === Res.Done || this.#body?.complete) this.#responseDone();
  }

  /** Writes a head, with the first body bytes in the same write when small. */
  #writeHead(head: string, body: Buffer | null): void {
    this.client.stream.write(headBytes(head, body));
    if (body !== null && !coalesced(body)) this.#writeClient(body);
  }

  #connectionField(): string {
    if (this.req.head.version === "1.1") return this.#clientKeep ? "" : "Connection: close\r\n";
    return this.#clientKeep ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  }

  #responseBody(chunk: Buffer): void {
    const bytes = this.#takeBody(chunk);
    if (this.#body?.broken) return;
    if (bytes !== null) this.#writeClient(bytes);
    if (this.#body?.complete) this.#responseDone();
  }

  /** Consumes response-body bytes by the response's framing; returns those to pass on. */
  #takeBody(chunk: Buffer): Buffer | null {
    switch (this.#res) {
      case Res.Body: {
        const body = this.#body!;
        const bytes = body.take(chunk);
        if (body.broken) {
          // The backend broke chunked framing: the client must see a truncated message, not
          // a repaired one.
          this.#dropUpstream();
          this.client.destroy();
          return null;
        }
        if (body.overrun) this.#upReusable = false;
        return bytes;
      }
      case Res.Close:
        return chunk;
      case Res.Done:
        // Bytes after a complete response: the upstream connection is out of step.
        this.#upReusable = false;
        return null;
      default:
        return null;
    }
  }

  #writeClient(bytes: Buffer): void {
    if (!this.client.stream.write(bytes)) this.up?.pause();
  }

  /** The client drained its write buffer. */
  onClientDrain(): void {
    this.up?.resume();
  }

  #responseDone(): void {
    this.#res = Res.Done;
    this.#body = null;
    if (this.reqDone) this.#finish();
    else {
      // RFC 9112 §9.3: the backend answered before the body was complete; the rest of the
      // body would be read as a new request, so this client connection ends here.
      this.#clientKeep = false;
      this.#finish();
    }
  }

  onUpstreamEnd(): void {
    if (this.#res === Res.Close) {
      this.#upReusable = false;
      this.#responseDone();
    } else if (this.#res !== Res.Done) {
      // The backend finished sending before the head or body was complete: the rest never
      // comes, and waiting for the socket to close could take forever (our side is open).
      this.#dropUpstream();
      this.onUpstreamClose();
    }
  }

  onUpstreamClose(): void {
    this.up = null;
    switch (this.#res) {
      case Res.Done:
        return;
      case Res.Head:
        // A pooled connection the backend closed just as we reused it: safe to retry once
        // when nothing was answered and the request had no body to replay (RFC 9110 §9.2.2).
        if (this.#canRetry()) {
          this.#retried = true;
          this.#connect(true);
          return;
        }
        this.#badGateway();
        return;
      case Res.Close:
        // "end" already finished it unless the connection was reset.
        this.#upReusable = false;
        this.#responseDone();
        return;
      default:
        // Truncated response after its head was sent: pass the truncation on.
        this.client.destroy();
    }
  }

  #canRetry(): boolean {
    return this.up === null && !this.#retried && !this.#gotUpstreamBytes &&
      this.req.bodyKind === "none" && this.#wasReused && !this.client.closed;
  }

  // ---- upgrade ----------------------------------------------------------------------------

  /** The backend switched protocols: the head goes out, then both sockets are spliced. */
  #startTunnel(r: ParsedResponseHead, rest: Buffer | null): void {
    const d = this.decision!;
    let headers: readonly Header[] = r.headers;
    let release: (() => void) | null;
    try {
      if (d.responseHeaders !== undefined) headers = d.responseHeaders(101, headers);
      d.onResponse?.(101);
      const client = this.client;
      release = d.onUpgrade?.(() => client.destroy()) ?? null;
    } catch {
      this.#badGateway();
      return;
    }
    const up = this.up!;
    this.#res = Res.Done;
    this.headSent = true;
    this.#finished = true;
    this.#observeDuration();
    this.core.stats.responses[1]!++;
    this.up = null;
    const upgrade = findField(r.headers, "upgrade") ?? "";
    this.client.stream.write(headBytes(
      statusLine(101, r.reason) + appendFields(headers, this.core.stats, false, r.checked) +
        "Connection: upgrade\r\nUpgrade: " + upgrade + "\r\n\r\n",
      rest,
    ));
    const tunnel = new Tunnel(this.client, up, this.core, release);
    if (rest !== null && !coalesced(rest)) tunnel.onUpstreamData(rest);
    this.client.startTunnel(tunnel);
  }

  // ---- endings ----------------------------------------------------------------------------

  /** Both directions done: hand the connections back. */
  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#observeDuration();
    const up = this.up;
    if (up !== null) {
      this.up = null;
      if (this.#upReusable && this.reqDone) this.core.pool.release(up);
      else up.destroy();
    }
    this.client.exchangeDone(this.#clientKeep && this.reqDone);
  }

  #dropUpstream(): void {
    const up = this.up;
    this.up = null;
    up?.destroy();
  }

  /** Transport failure or an unframeable response: 502 while nothing was sent yet. */
  #badGateway(): void {
    this.core.stats.badGateway++;
    this.#dropUpstream();
    if (this.headSent) {
      this.client.destroy();
      return;
    }
    this.#engineError(502, false, "bad gateway");
  }

  /** A response the engine makes itself (`errorResponse`); `close` forces Connection: close. */
  #engineError(status: number, close: boolean, reason: string): void {
    if (this.#finished) return;
    this.#res = Res.Done;
    this.headSent = true;
    this.core.stats.responses[status / 100 | 0]!++;
    // An unread request body would be taken for the next request: close instead.
    this.#clientKeep = !close && this.reqDone && this.req.keepAlive && !this.core.closing;
    const withBody = this.req.head.method !== "HEAD";
    this.client.stream.write(
      errorBytes(this.core, status, reason, withBody, this.#connectionField(), this.req.head),
    );
    this.#finished = true;
    this.#observeDuration();
    this.up = null;
    this.client.exchangeDone(this.#clientKeep);
  }

  /** A response was sent in full (or switched protocols): how long it took. */
  #observeDuration(): void {
    observe(this.core.stats.duration, (performance.now() - this.#startedAt) / 1000);
  }

  /** Whether the engine is waiting for request-body bytes (the decision came, the body did not). */
  get readingBody(): boolean {
    return !this.reqDone && !this.#finished && (this.up !== null || this.#discard);
  }

  /**
   * The request body stopped arriving for `bodyTimeoutMs` (issue 10, finding 6): 408 when
   * nothing was answered yet, and both connections close (a half-sent body can be neither
   * finished upstream nor skipped on the client connection).
   */
  bodyTimedOut(): void {
    if (this.#finished) return;
    this.core.stats.rejected++;
    this.#dropUpstream();
    if (!this.headSent) {
      this.#engineError(408, true, "body timeout");
      return;
    }
    this.#finished = true;
    this.client.destroy();
  }

  /** The client went away: drop the upstream side (a half-sent request cannot be reused). */
  clientClosed(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#dropUpstream();
  }
}
