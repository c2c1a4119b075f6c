/**
 * Message bodies as the engine relays them: where each one ends (RFC 9112 §6.3, as the head
 * parsers determined) and, for responses, which framing the client gets. Framing belongs to
 * one connection (RFC 9112 §6), so the engine writes each side's own. Only bytes these
 * classes accepted are ever passed on: a body that cannot be framed stops at its last valid
 * byte.
 */
import { Buffer } from "node:buffer";
import { ChunkedDecoder, type DataSink } from "./chunked.ts";
import type { BodyKind } from "./parse_head.ts";
import type { ParsedResponseHead } from "./parse_response_head.ts";
import { findField } from "./_write_head.ts";

/** Consumes a request body (length-delimited or chunked) from the client's buffer. */
export class RequestBody {
  done: boolean;
  /** After `take`: bytes behind the forwarded ones that were consumed and are not passed on. */
  skipped = 0;
  #remaining = 0;
  #decoder: ChunkedDecoder | null = null;

  /** `dropTrailer` names trailer fields that must not reach the backend (ChunkedLimits). */
  constructor(
    kind: BodyKind,
    maxTrailerBytes: number,
    dropTrailer?: ((name: string) => boolean) | undefined,
  ) {
    this.done = kind === "none";
    if (kind === "chunked") this.#decoder = new ChunkedDecoder({ maxTrailerBytes, dropTrailer });
    else if (kind !== "none") this.#remaining = kind.length;
  }

  /**
   * How many bytes at the start of `buf` belong to the body and may be forwarded (after them,
   * `skipped` bytes are consumed and dropped; the rest waits for more bytes, or is the next
   * request once `done`); -1 when a chunked body cannot be framed (RFC 9112 §7.1).
   */
  /** Why a chunked body was refused, once `take` returned -1. */
  get error(): string {
    return this.#decoder?.error ?? "";
  }

  take(buf: Buffer): number {
    const decoder = this.#decoder;
    if (decoder === null) {
      const take = Math.min(this.#remaining, buf.length);
      this.#remaining -= take;
      if (this.#remaining === 0) this.done = true;
      return take;
    }
    const off = decoder.feed(buf, 0, buf.length);
    this.skipped = decoder.skipped;
    if (decoder.done) this.done = true;
    return off;
  }
}

/** Largest response head or trailer section accepted from a backend (beyond → 502). */
export const MAX_RESPONSE_HEAD = 64 * 1024;

export interface ClientFraming {
  /** Framing field lines for the client's head ("" for none). */
  fields: string;
  /** False: the client learns where the body ends from the connection closing. */
  selfDelimited: boolean;
  /** HTTP/1.0 clients cannot take chunked (RFC 9112 §7.1): decode, delimit by close. */
  dechunk: boolean;
}

const CHUNKED: ClientFraming = Object.freeze({
  fields: "Transfer-Encoding: chunked\r\n",
  selfDelimited: true,
  dechunk: false,
});
const DECHUNKED: ClientFraming = Object.freeze({ fields: "", selfDelimited: false, dechunk: true });
const BY_CLOSE: ClientFraming = Object.freeze({ fields: "", selfDelimited: false, dechunk: false });

/** The framing a response gets on its way to the client. */
export function clientFraming(
  r: ParsedResponseHead,
  requestMethod: string,
  client10: boolean,
): ClientFraming {
  const kind = r.bodyKind;
  if (kind === "chunked") return client10 ? DECHUNKED : CHUNKED;
  if (kind === "close") return BY_CLOSE;
  if (kind !== "none") {
    return {
      fields: "Content-Length: " + kind.length + "\r\n",
      selfDelimited: true,
      dechunk: false,
    };
  }
  let fields = "";
  if (r.status !== 204) {
    // HEAD and 304 carry the length the full response would have (RFC 9110 §8.6).
    const cl = findField(r.headers, "content-length");
    if (cl !== undefined) fields = "Content-Length: " + cl + "\r\n";
    else if (requestMethod !== "HEAD" && r.status !== 304) fields = "Content-Length: 0\r\n";
  }
  return { fields, selfDelimited: true, dechunk: false };
}

/** Consumes a length-delimited or chunked response body as its bytes arrive. */
export class ResponseBody {
  /** The whole body arrived. */
  complete = false;
  /** Bytes came after the end of the body: they answer no request (RFC 9112 §6.3). */
  overrun = false;
  /** The backend broke chunked framing: the client must see a truncated message. */
  broken = false;
  #remaining = 0;
  #decoder: ChunkedDecoder | null = null;
  /** Chunked bytes that could not be validated yet (a partial chunk-size line). */
  #pending: Buffer | null = null;
  #sink: DataSink | undefined;

  /** With `sink`, a chunked body is decoded and its data handed to `sink` instead. */
  constructor(kind: { length: number } | "chunked", sink?: DataSink) {
    if (kind === "chunked") {
      this.#decoder = new ChunkedDecoder({ maxTrailerBytes: MAX_RESPONSE_HEAD });
      this.#sink = sink;
    } else this.#remaining = kind.length;
  }

  /** Takes body bytes; returns those to pass on verbatim (null for none). */
  take(chunk: Buffer): Buffer | null {
    const decoder = this.#decoder;
    if (decoder === null) {
      const take = Math.min(this.#remaining, chunk.length);
      this.#remaining -= take;
      if (this.#remaining === 0) {
        if (take !== chunk.length) this.overrun = true;
        this.complete = true;
      }
      return take === chunk.length ? chunk : chunk.subarray(0, take);
    }
    const buf = this.#pending === null ? chunk : Buffer.concat([this.#pending, chunk]);
    const off = decoder.feed(buf, 0, buf.length, this.#sink);
    if (off === -1) {
      this.broken = true;
      this.#pending = null;
      return null;
    }
    if (decoder.done) {
      this.#pending = null;
      if (off !== buf.length) this.overrun = true;
      this.complete = true;
    } else this.#pending = off === buf.length ? null : buf.subarray(off);
    if (this.#sink !== undefined || off === 0) return null;
    return off === buf.length ? buf : buf.subarray(0, off);
  }
}
