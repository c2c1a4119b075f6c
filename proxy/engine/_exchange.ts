/**
 * One request/response exchange on a client connection: carry out the decision, stream the
 * request body with the framing the parser determined, parse the upstream response head,
 * stream the response back with framing fit for the client, and hand both connections back.
 */
import { Buffer } from "node:buffer";
import { ChunkedDecoder } from "./chunked.ts";
import type { Core } from "./_core.ts";
import type { ClientConnection } from "./_client.ts";
import type { ParsedHead } from "./parse_head.ts";
import { parseResponseHead } from "./parse_response_head.ts";
import type { ParsedResponseHead } from "./parse_response_head.ts";
import type { UpstreamConnection, UpstreamOwner } from "./_upstream.ts";
import {
  appendFields,
  coalesced,
  findField,
  headBytes,
  statusLine,
  validRequestLine,
} from "./_write_head.ts";
import type { Decision, ForwardDecision, Header, RespondDecision } from "./types.ts";

/** Client pause reasons (a bit each). */
export const PAUSE_UPSTREAM = 1;
export const PAUSE_BUFFER = 2;

/** Largest upstream response head accepted (beyond → 502). */
const MAX_RESPONSE_HEAD = 64 * 1024;

const enum Res {
  /** Waiting for (more of) the response head. */
  Head,
  Length,
  Chunked,
  Close,
  Done,
  Tunnel,
}

export class Exchange implements UpstreamOwner {
  readonly client: ClientConnection;
  readonly core: Core;
  req: ParsedHead;
  decision: ForwardDecision | null = null;
  up: UpstreamConnection | null = null;

  // Request body.
  reqDone: boolean;
  #reqRemaining = 0;
  #reqDecoder: ChunkedDecoder | null = null;
  /** Respond decisions read and drop the body to keep the connection in step. */
  #discard = false;

  // Upstream attempt.
  #upHead = "";
  #retried = false;
  #wasReused = false;
  #gotUpstreamBytes = false;

  // Response.
  #res = Res.Head;
  #resBuf: Buffer | null = null;
  #resRemaining = 0;
  #resDecoder: ChunkedDecoder | null = null;
  /** HTTP/1.0 clients cannot take chunked (RFC 9112 §7.1): decode and delimit by close. */
  #dechunk = false;
  /** Upstream may be reused after this response. */
  #upReusable = false;
  /** Client may send another request after this response. */
  #clientKeep = false;
  headSent = false;
  #finished = false;
  #release: (() => void) | null = null;
  #bodyComplete = false;
  #broken = false;

  constructor(client: ClientConnection, core: Core, req: ParsedHead) {
    this.client = client;
    this.core = core;
    this.req = req;
    const kind = req.bodyKind;
    if (kind === "none") this.reqDone = true;
    else {
      this.reqDone = false;
      if (kind === "chunked") {
        this.#reqDecoder = new ChunkedDecoder({ maxTrailerBytes: core.limits.maxHeadBytes });
      } else this.#reqRemaining = kind.length;
    }
  }

  /** Carries out `decide`'s answer. */
  start(decision: Decision): void {
    if (this.client.closed) return;
    if (decision.kind === "respond") this.#respond(decision);
    else this.#forward(decision);
  }

  /** `decide` threw or rejected: a bug on the routing side, answered 500. */
  failed(): void {
    if (this.client.closed) return;
    this.#engineError(500, false);
  }

  // ---- respond ----------------------------------------------------------------------------

  #respond(d: RespondDecision): void {
    const status = d.status;
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      this.#engineError(500, false);
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
    this.#res = Res.Done;
    this.#discard = true;
    this.pumpRequestBody();
    if (this.reqDone) this.#finish();
  }

  // ---- forward ----------------------------------------------------------------------------

  #forward(d: ForwardDecision): void {
    const head = d.head;
    if (!validRequestLine(head.method, head.target)) {
      this.#engineError(500, false);
      return;
    }
    this.decision = d;
    const kind = this.req.bodyKind;
    // RFC 9110 §7.6.1: the engine writes Connection and framing itself; everything else is
    // the decision's. RFC 9112 §3.2: a 1.1 request needs Host, so a 1.0 client's gets one.
    let s = head.method + " " + head.target + " HTTP/1.1\r\n" +
      appendFields(head.headers, this.core.stats, this.req.upgrade);
    if (findField(head.headers, "host") === undefined) {
      s += "Host: " + d.hostname + ":" + d.port + "\r\n";
    }
    if (this.req.upgrade) s += "Connection: upgrade\r\n";
    if (kind === "chunked") s += "Transfer-Encoding: chunked\r\n";
    else if (kind !== "none") s += "Content-Length: " + kind.length + "\r\n";
    s += "\r\n";
    this.#upHead = s;
    this.#connect(false);
  }

  #connect(fresh: boolean): void {
    const d = this.decision!;
    const up = this.core.pool.acquire(d.hostname, d.port, this, fresh);
    this.up = up;
    this.#wasReused = up.reused;
    // Writes made in this tick (head, first body bytes) leave in one segment: see _stream.ts.
    up.write(headBytes(this.#upHead, null));
    this.pumpRequestBody();
  }

  /** Moves request-body bytes from the client buffer upstream (or drops them), by framing. */
  pumpRequestBody(): void {
    // Before the decision there is nowhere to send the bytes: they wait in the buffer.
    if (this.reqDone || (this.up === null && !this.#discard)) return;
    const buf = this.client.buf;
    if (buf === null) return;
    const decoder = this.#reqDecoder;
    if (decoder === null) {
      const take = Math.min(this.#reqRemaining, buf.length);
      this.#writeUp(take === buf.length ? buf : buf.subarray(0, take));
      this.client.buf = take === buf.length ? null : buf.subarray(take);
      this.#reqRemaining -= take;
      this.client.checkBuffer();
      if (this.#reqRemaining === 0) this.#requestDone();
      return;
    }
    const off = decoder.feed(buf, 0, buf.length);
    if (off === -1) {
      this.#requestFramingError();
      return;
    }
    if (off > 0) this.#writeUp(off === buf.length ? buf : buf.subarray(0, off));
    this.client.buf = off === buf.length ? null : buf.subarray(off);
    this.client.checkBuffer();
    if (decoder.done) this.#requestDone();
    else if (
      this.client.buf !== null && this.client.buf.length > 2 * this.core.limits.maxHeadBytes
    ) {
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
    if (!this.headSent) this.#engineError(400, true);
    else this.client.destroy();
  }

  onUpstreamDrain(): void {
    this.client.resume(PAUSE_UPSTREAM);
  }

  // ---- response ---------------------------------------------------------------------------

  onUpstreamData(chunk: Buffer): void {
    this.#gotUpstreamBytes = true;
    switch (this.#res) {
      case Res.Tunnel:
        this.#writeClient(chunk);
        return;
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
            statusLine(r.status, r.reason) + appendFields(r.headers, this.core.stats, false) +
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
    const client10 = this.req.head.version === "1.0";
    const kind = r.bodyKind;
    let framing = "";
    let selfDelimited = true;
    if (kind === "none") {
      this.#res = Res.Done;
      if (r.status !== 204) {
        // HEAD and 304 carry the length the full response would have (RFC 9110 §8.6).
        const cl = findField(r.headers, "content-length");
        if (cl !== undefined) framing = "Content-Length: " + cl + "\r\n";
        else if (this.req.head.method !== "HEAD" && r.status !== 304) {
          framing = "Content-Length: 0\r\n";
        }
      }
    } else if (kind === "chunked") {
      this.#res = Res.Chunked;
      this.#resDecoder = new ChunkedDecoder({ maxTrailerBytes: MAX_RESPONSE_HEAD });
      if (client10) {
        this.#dechunk = true;
        selfDelimited = false;
      } else framing = "Transfer-Encoding: chunked\r\n";
    } else if (kind === "close") {
      this.#res = Res.Close;
      selfDelimited = false;
    } else {
      this.#res = Res.Length;
      this.#resRemaining = kind.length;
      framing = "Content-Length: " + kind.length + "\r\n";
    }
    this.#upReusable = r.keepAlive;
    this.#clientKeep = selfDelimited && this.req.keepAlive && !this.core.closing &&
      !this.client.closeAfter;
    const head = statusLine(r.status, r.reason) + appendFields(headers, this.core.stats, false) +
      framing + this.#connectionField() + "\r\n";
    this.headSent = true;
    if (this.#dechunk) {
      this.#writeHead(head, null);
      if (rest !== null) this.#responseBody(rest);
      else if (this.#res === Res.Done) this.#finish();
      return;
    }
    const first = rest === null ? null : this.#takeBody(rest);
    if (this.#broken) return;
    this.#writeHead(head, first);
    if (this.#bodyComplete || this.#res === Res.Done) this.#responseDone();
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
    if (this.#broken) return;
    if (bytes !== null) this.#writeClient(bytes);
    if (this.#bodyComplete) this.#responseDone();
  }

  /**
   * Consumes response-body bytes by the response's framing and returns those to pass on
   * verbatim (de-chunked data goes to the client directly). Sets `#bodyComplete` at the end
   * of the body, `#broken` when the backend broke chunked framing.
   */
  #takeBody(chunk: Buffer): Buffer | null {
    switch (this.#res) {
      case Res.Length: {
        const take = Math.min(this.#resRemaining, chunk.length);
        this.#resRemaining -= take;
        if (this.#resRemaining === 0) {
          // RFC 9112 §6.3: bytes past the declared length answer no request.
          if (take !== chunk.length) this.#upReusable = false;
          this.#bodyComplete = true;
        }
        return take === chunk.length ? chunk : chunk.subarray(0, take);
      }
      case Res.Chunked: {
        const buf = this.#resBuf === null ? chunk : Buffer.concat([this.#resBuf, chunk]);
        const decoder = this.#resDecoder!;
        const off = decoder.feed(
          buf,
          0,
          buf.length,
          this.#dechunk ? (b, from, to) => this.#writeClient(b.subarray(from, to)) : undefined,
        );
        if (off === -1) {
          // The backend broke chunked framing: the client must see a truncated message, not
          // a repaired one.
          this.#broken = true;
          this.#dropUpstream();
          this.client.destroy();
          return null;
        }
        if (decoder.done) {
          this.#resBuf = null;
          if (off !== buf.length) this.#upReusable = false;
          this.#bodyComplete = true;
        } else this.#resBuf = off === buf.length ? null : buf.subarray(off);
        if (this.#dechunk || off === 0) return null;
        return off === buf.length ? buf : buf.subarray(0, off);
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
    } else if (this.#res === Res.Tunnel) this.client.stream.end();
  }

  onUpstreamClose(): void {
    this.up = null;
    switch (this.#res) {
      case Res.Done:
        return;
      case Res.Tunnel:
        this.client.destroy();
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

  #startTunnel(r: ParsedResponseHead, rest: Buffer | null): void {
    const d = this.decision!;
    let headers: readonly Header[] = r.headers;
    try {
      if (d.responseHeaders !== undefined) headers = d.responseHeaders(101, headers);
      d.onResponse?.(101);
      this.#release = d.onUpgrade?.() ?? null;
    } catch {
      this.#badGateway();
      return;
    }
    this.#res = Res.Tunnel;
    this.headSent = true;
    const upgrade = findField(r.headers, "upgrade") ?? "";
    this.#writeHead(
      statusLine(101, r.reason) + appendFields(headers, this.core.stats, false) +
        "Connection: upgrade\r\nUpgrade: " + upgrade + "\r\n\r\n",
      rest,
    );
    // The tunnel keeps only what it needs: tens of thousands of them may be open.
    this.req = TUNNEL_REQ;
    this.decision = null;
    this.#resDecoder = null;
    this.client.startTunnel();
    this.core.stats.upgrades++;
  }

  /** Client bytes after the upgrade go straight upstream. */
  tunnelWrite(chunk: Buffer): void {
    const up = this.up;
    if (up !== null && !up.write(chunk)) this.client.pause(PAUSE_UPSTREAM);
  }

  tunnelEnd(): void {
    this.up?.stream.end();
  }

  // ---- endings ----------------------------------------------------------------------------

  /** Both directions done: hand the connections back. */
  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
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
    this.#engineError(502, false);
  }

  /** A response the engine makes itself (with `errorHeaders`); `close` forces Connection: close. */
  #engineError(status: number, close: boolean): void {
    if (this.#finished) return;
    this.#res = Res.Done;
    this.headSent = true;
    // An unread request body would be taken for the next request: close instead.
    this.#clientKeep = !close && this.reqDone && this.req.keepAlive && !this.core.closing;
    this.client.stream.write(headBytes(
      statusLine(status) + appendFields(this.core.errorHeaders(status), this.core.stats, false) +
        "Content-Length: 0\r\n" + this.#connectionField() + "\r\n",
      null,
    ));
    this.#finished = true;
    this.up = null;
    this.client.exchangeDone(this.#clientKeep);
  }

  /** The client went away: drop the upstream side (a half-sent request cannot be reused). */
  clientClosed(): void {
    if (this.#res === Res.Tunnel) {
      this.#dropUpstream();
      return;
    }
    if (this.#finished) return;
    this.#finished = true;
    this.#dropUpstream();
  }

  /** Called once when an upgraded tunnel ends. */
  tunnelClosed(): void {
    if (this.#res !== Res.Tunnel) return;
    this.#res = Res.Done;
    this.core.stats.upgrades--;
    this.#dropUpstream();
    const release = this.#release;
    this.#release = null;
    release?.();
  }
}

const TUNNEL_REQ: ParsedHead = {
  ok: true,
  head: { method: "GET", target: "/", version: "1.1", headers: [] },
  bodyKind: "none",
  keepAlive: false,
  upgrade: true,
  consumed: 0,
};
