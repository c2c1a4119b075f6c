/**
 * A strict validator for the chunked transfer coding (RFC 9112 §7.1) that forwards bytes
 * unchanged. `feed` reports how far the bytes are valid; the caller forwards exactly that
 * prefix and keeps the rest. Lines (chunk-size, trailer fields) are only released once their
 * CRLF has arrived and they validated, so a malformed line is never forwarded, not even in
 * part: after an error the caller closes the connection and the backend has seen only
 * well-framed chunks.
 *
 * ```
 * chunked-body   = *chunk last-chunk trailer-section CRLF
 * chunk          = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 * chunk-size     = 1*HEXDIG
 * last-chunk     = 1*("0") [ chunk-ext ] CRLF
 * chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
 * chunk-ext-val  = token / quoted-string
 * ```
 */
import type { Buffer } from "node:buffer";
import { FIELD_VCHAR, TCHAR } from "./_syntax.ts";

export interface ChunkedLimits {
  /** Longest chunk-size line (with extensions) or trailer line, CRLF included. */
  maxLineBytes?: number;
  /** All trailer fields together. */
  maxTrailerBytes?: number;
  /**
   * Trailer fields for whose name this returns true are validated but not passed on: `feed`
   * stops before such a line and reports its length in `skipped`.
   */
  dropTrailer?: ((name: string) => boolean) | undefined;
}

const enum State {
  Size,
  Data,
  DataCrlf,
  Trailer,
  Done,
  Failed,
}

/** Receives the chunk-data bytes when decoding (for peers that cannot take chunked framing). */
export type DataSink = (buf: Buffer, start: number, end: number) => void;

export class ChunkedDecoder {
  #state = State.Size;
  #remaining = 0;
  #trailerBytes = 0;
  #maxLine: number;
  #maxTrailer: number;
  #dropTrailer: ((name: string) => boolean) | undefined;
  /** Why the body was refused, once `feed` returned -1. */
  error = "";
  /**
   * Set by `feed`: how many bytes after the returned offset were consumed but must not be
   * passed on (a trailer line `dropTrailer` refused). The caller presents the bytes after them.
   */
  skipped = 0;

  constructor(limits: ChunkedLimits = {}) {
    this.#maxLine = limits.maxLineBytes ?? 4096;
    this.#maxTrailer = limits.maxTrailerBytes ?? 16384;
    this.#dropTrailer = limits.dropTrailer;
  }

  /** True once the last chunk, the trailers and the final CRLF have been validated. */
  get done(): boolean {
    return this.#state === State.Done;
  }

  /**
   * Validates `buf[start..end)` and returns the offset up to which the bytes are valid and may
   * be forwarded (the rest, after any `skipped` bytes, must be presented again with more bytes
   * appended), or -1 when the body is malformed (see `error`). Once `done`, the returned offset is the end of the body:
   * bytes after it belong to the next message. With `sink`, chunk-data is also handed over.
   */
  feed(buf: Buffer, start: number, end: number, sink?: DataSink): number {
    this.skipped = 0;
    let p = start;
    while (p < end) {
      switch (this.#state) {
        case State.Data: {
          const take = Math.min(this.#remaining, end - p);
          if (sink !== undefined) sink(buf, p, p + take);
          p += take;
          this.#remaining -= take;
          if (this.#remaining === 0) this.#state = State.DataCrlf;
          break;
        }
        case State.DataCrlf: {
          // RFC 9112 §7.1: chunk-data is followed by exactly CRLF.
          if (end - p < 2) return p;
          if (buf[p] !== 0x0d || buf[p + 1] !== 0x0a) {
            return this.#fail("missing CRLF after chunk data");
          }
          p += 2;
          this.#state = State.Size;
          break;
        }
        case State.Size: {
          const lf = this.#lineEnd(buf, p, end);
          if (lf < 0) return lf === -1 ? p : -1;
          const size = this.#parseSizeLine(buf, p, lf - 1);
          if (size < 0) return -1;
          p = lf + 1;
          if (size === 0) this.#state = State.Trailer;
          else {
            this.#remaining = size;
            this.#state = State.Data;
          }
          break;
        }
        case State.Trailer: {
          const lf = this.#lineEnd(buf, p, end);
          if (lf < 0) return lf === -1 ? p : -1;
          const lineStart = p;
          p = lf + 1;
          if (lf - 1 === lineStart) {
            this.#state = State.Done;
            return p;
          }
          this.#trailerBytes += p - lineStart;
          if (this.#trailerBytes > this.#maxTrailer) return this.#fail("trailers too large");
          if (!validTrailerLine(buf, lineStart, lf - 1)) return this.#fail("invalid trailer field");
          if (this.#dropTrailer !== undefined) {
            const colon = buf.indexOf(0x3a, lineStart);
            if (this.#dropTrailer(buf.toString("latin1", lineStart, colon))) {
              this.skipped = p - lineStart;
              return lineStart;
            }
          }
          break;
        }
        case State.Done:
          return p;
        case State.Failed:
          return -1;
      }
    }
    return p;
  }

  #fail(reason: string): number {
    this.#state = State.Failed;
    this.error = reason;
    return -1;
  }

  /**
   * Index of the LF ending the line at `p`; -1 when more bytes are needed, -2 on error.
   * RFC 9112 §2.2: lines end in CRLF; a bare LF or CR is refused.
   */
  #lineEnd(buf: Buffer, p: number, end: number): number {
    const lf = buf.indexOf(0x0a, p);
    if (lf === -1 || lf >= end) {
      if (end - p >= this.#maxLine) this.#fail("chunk line too long");
      else return -1;
      return -2;
    }
    if (lf + 1 - p > this.#maxLine) {
      this.#fail("chunk line too long");
      return -2;
    }
    if (lf === p || buf[lf - 1] !== 0x0d) {
      this.#fail("bare LF in chunked body");
      return -2;
    }
    return lf;
  }

  /** Parses `chunk-size [ chunk-ext ]` in `buf[p..e)` (CR excluded); -1 on error. */
  #parseSizeLine(buf: Buffer, p: number, e: number): number {
    let size = 0;
    let digits = 0;
    while (p < e) {
      const v = hexValue(buf[p]!);
      if (v < 0) break;
      // Overflow is a classic desync (one parser wraps, another does not): refuse sizes
      // that are not exact integers.
      if (size > (Number.MAX_SAFE_INTEGER - v) / 16) return this.#fail("chunk size overflow");
      size = size * 16 + v;
      digits++;
      p++;
    }
    if (digits === 0) return this.#fail("invalid chunk size");
    if (p < e && !validChunkExt(buf, p, e)) return this.#fail("invalid chunk extension");
    return size;
  }
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** `*( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )` over `buf[p..e)`. */
function validChunkExt(buf: Buffer, p: number, e: number): boolean {
  while (p < e) {
    p = skipBws(buf, p, e);
    if (p >= e || buf[p] !== 0x3b) return false; // ";"
    p = skipBws(buf, p + 1, e);
    const nameStart = p;
    while (p < e && TCHAR[buf[p]!] === 1) p++;
    if (p === nameStart) return false;
    const afterName = p;
    p = skipBws(buf, p, e);
    if (p < e && buf[p] === 0x3d) { // "="
      p = skipBws(buf, p + 1, e);
      if (p >= e) return false;
      if (buf[p] === 0x22) { // quoted-string (RFC 9110 §5.6.4)
        p++;
        for (;;) {
          if (p >= e) return false;
          const c = buf[p]!;
          if (c === 0x22) {
            p++;
            break;
          }
          if (c === 0x5c) { // quoted-pair
            if (p + 1 >= e || FIELD_VCHAR[buf[p + 1]!] !== 1) return false;
            p += 2;
            continue;
          }
          if (FIELD_VCHAR[c] !== 1) return false;
          p++;
        }
      } else {
        const valueStart = p;
        while (p < e && TCHAR[buf[p]!] === 1) p++;
        if (p === valueStart) return false;
      }
    } else {
      p = afterName;
    }
  }
  return true;
}

function skipBws(buf: Buffer, p: number, e: number): number {
  while (p < e && (buf[p] === 0x20 || buf[p] === 0x09)) p++;
  return p;
}

/** A trailer field line: token ":" field-value with no CTLs (RFC 9112 §7.1.2, §5). */
function validTrailerLine(buf: Buffer, p: number, e: number): boolean {
  const first = buf[p];
  if (first === 0x20 || first === 0x09) return false; // obs-fold
  const nameStart = p;
  while (p < e && TCHAR[buf[p]!] === 1) p++;
  if (p === nameStart || p >= e || buf[p] !== 0x3a) return false;
  for (p++; p < e; p++) {
    if (FIELD_VCHAR[buf[p]!] !== 1) return false;
  }
  return true;
}
