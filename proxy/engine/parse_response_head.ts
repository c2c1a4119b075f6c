/**
 * Response-head parser for what a backend sends back (RFC 9112 §4, §6.3). Pure. Backends are
 * less hostile than clients, but a response we mis-frame desynchronises both the pooled
 * upstream connection and the client's keep-alive connection, so framing is as strict as for
 * requests; a head we cannot frame becomes a 502.
 */
import type { Buffer } from "node:buffer";
import {
  CONN_CLOSE,
  CONN_KEEP_ALIVE,
  connectionFlags,
  FIELD_VCHAR,
  TCHAR,
  trimOws,
} from "./_syntax.ts";
import type { Header } from "./types.ts";

/** How the response body is delimited (RFC 9112 §6.3); "close": read until the backend closes. */
export type ResponseBodyKind = "none" | { length: number } | "chunked" | "close";

export interface ParsedResponseHead {
  ok: true;
  status: number;
  reason: string;
  version: "1.0" | "1.1";
  headers: Header[];
  bodyKind: ResponseBodyKind;
  /** Whether the upstream connection may be reused after this response. */
  keepAlive: boolean;
  consumed: number;
  /** Validated field names and values, flat (see `ParsedHead.checked` in parse_head.ts). */
  checked: readonly string[];
  /** The buffer parsed, and where its lines start (see `ParsedHead.lines` in parse_head.ts). */
  source: Buffer;
  lines: readonly number[];
}

export interface ResponseHeadError {
  ok: false;
  incomplete?: undefined;
  reason: string;
}

export interface ResponseHeadIncomplete {
  ok: false;
  incomplete: true;
}

export type ParseResponseHeadResult =
  | ParsedResponseHead
  | ResponseHeadError
  | ResponseHeadIncomplete;

export interface ResponseContext {
  /** The request's method: a response to HEAD has no body whatever it says (RFC 9112 §6.3 rule 1). */
  requestMethod: string;
  maxHeadBytes: number;
}

const FIRST_SCAN = 2048;
const INCOMPLETE: ResponseHeadIncomplete = Object.freeze({ ok: false, incomplete: true });

function fail(reason: string): ResponseHeadError {
  return { ok: false, reason };
}

export function parseResponseHead(
  buf: Buffer,
  start: number,
  context: ResponseContext,
): ParseResponseHeadResult {
  // String search: native in V8, unlike Buffer.indexOf under Deno (see parse_head.ts).
  const limit = Math.min(buf.length, start + context.maxHeadBytes);
  let text = buf.toString("latin1", start, Math.min(limit, start + FIRST_SCAN));
  let idx = text.indexOf("\r\n\r\n");
  if (idx === -1 && start + text.length < limit) {
    text = buf.toString("latin1", start, limit);
    idx = text.indexOf("\r\n\r\n");
  }
  if (idx === -1) {
    if (buf.length - start >= context.maxHeadBytes) return fail("response head too large");
    return INCOMPLETE;
  }
  const s = text;

  // status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 §4). A missing
  // SP before an empty reason is tolerated: it changes no framing.
  const lineEnd = s.indexOf("\r\n");
  let version: "1.0" | "1.1";
  if (s.startsWith("HTTP/1.1 ")) version = "1.1";
  else if (s.startsWith("HTTP/1.0 ")) version = "1.0";
  else return fail("malformed status line");
  if (lineEnd < 12) return fail("malformed status line");
  const d0 = s.charCodeAt(9) - 0x30, d1 = s.charCodeAt(10) - 0x30, d2 = s.charCodeAt(11) - 0x30;
  if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return fail("invalid status code");
  const status = d0 * 100 + d1 * 10 + d2;
  if (lineEnd > 12 && s.charCodeAt(12) !== 0x20) return fail("malformed status line");
  // reason-phrase = *( HTAB / SP / VCHAR / obs-text )
  for (let i = start + 13; i < start + lineEnd; i++) {
    if (FIELD_VCHAR[buf[i]!] !== 1) return fail("invalid reason phrase");
  }
  const reason = lineEnd > 13 ? s.slice(13, lineEnd) : "";

  // Field lines, one pass over the bytes (see parse_head.ts).
  const headers: Header[] = [];
  const checked: string[] = [];
  const lines: number[] = [start];
  let contentLength: string | null = null;
  let transferEncoding: string | null = null;
  let connection = 0;
  const headEnd = start + idx + 2;
  let ls = start + lineEnd + 2;
  lines.push(ls);
  while (ls < headEnd) {
    let i = ls;
    while (TCHAR[buf[i]!] === 1) i++;
    if (i === ls || buf[i] !== 0x3a) {
      const c = buf[ls];
      return fail(c === 0x20 || c === 0x09 ? "obsolete line folding" : "malformed field line");
    }
    const colon = i;
    for (i++; FIELD_VCHAR[buf[i]!] === 1; i++);
    if (buf[i] !== 0x0d || buf[i + 1] !== 0x0a) return fail("invalid field value");
    const name = s.slice(ls - start, colon - start);
    const value = trimOws(s, colon + 1 - start, i - start);
    headers.push([name, value]);
    checked.push(name, value);
    ls = i + 2;
    lines.push(ls);
    switch (name.length) {
      case 10:
        if (name.toLowerCase() === "connection") connection |= connectionFlags(value);
        break;
      case 14:
        if (name.toLowerCase() === "content-length") {
          // RFC 9110 §8.6: identical repeats may be folded into one; differing ones are fatal.
          if (contentLength !== null && contentLength !== value) {
            return fail("conflicting Content-Length");
          }
          contentLength = value;
        }
        break;
      case 17:
        if (name.toLowerCase() === "transfer-encoding") {
          transferEncoding = transferEncoding === null ? value : `${transferEncoding}, ${value}`;
        }
        break;
    }
  }

  let keepAlive = version === "1.1"
    ? (connection & CONN_CLOSE) === 0
    : (connection & CONN_KEEP_ALIVE) !== 0 && (connection & CONN_CLOSE) === 0;
  let bodyKind: ResponseBodyKind;
  // RFC 9112 §6.3 rule 1: HEAD responses, 1xx, 204 and 304 end at the head.
  if (
    context.requestMethod === "HEAD" || status < 200 || status === 204 || status === 304
  ) {
    bodyKind = "none";
  } else if (transferEncoding !== null) {
    // RFC 9112 §6.3 rule 3: with both, TE wins but the connection must not be reused.
    if (contentLength !== null) keepAlive = false;
    const codings = transferEncoding.split(",");
    const last = codings[codings.length - 1]!.trim().toLowerCase();
    if (version === "1.0") return fail("Transfer-Encoding in HTTP/1.0 response");
    if (last === "chunked") {
      for (let i = 0; i < codings.length - 1; i++) {
        if (codings[i]!.trim().toLowerCase() === "chunked") return fail("chunked applied twice");
      }
      if (codings.length === 1) bodyKind = "chunked";
      else {
        // Another coding under chunked ("gzip, chunked") cannot be passed on as-is once we
        // re-frame; treat it as an end-to-end stream delimited by close after de-chunking.
        return fail("unsupported transfer coding");
      }
    } else {
      // Rule 3: a final coding other than chunked is delimited by close.
      bodyKind = "close";
      keepAlive = false;
    }
  } else if (contentLength !== null) {
    if (contentLength.length === 0 || contentLength.length > 15) {
      return fail("invalid Content-Length");
    }
    for (let i = 0; i < contentLength.length; i++) {
      const c = contentLength.charCodeAt(i);
      if (c < 0x30 || c > 0x39) return fail("invalid Content-Length");
    }
    const length = Number(contentLength);
    bodyKind = length === 0 ? "none" : { length };
  } else {
    // Rule 7: no framing: the body runs until the backend closes.
    bodyKind = "close";
    keepAlive = false;
  }
  return {
    ok: true,
    status,
    reason,
    version,
    headers,
    bodyKind,
    keepAlive,
    consumed: idx + 4,
    checked,
    source: buf,
    lines,
  };
}
