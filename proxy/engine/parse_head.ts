/**
 * Strict HTTP/1.1 request-head parser over bytes (RFC 9112). Pure: it reads a buffer and
 * returns a value; the engine owns the socket. Anything this parser accepts has exactly one
 * framing interpretation, which is what makes it safe to forward (RFC 9112 §11.2, request
 * smuggling): ambiguous or malformed heads are refused, never repaired.
 */
import type { Buffer } from "node:buffer";
import {
  CONN_CLOSE,
  CONN_KEEP_ALIVE,
  CONN_UPGRADE,
  connectionFlags,
  FIELD_VCHAR,
  isHostValue,
  TCHAR,
  trimOws,
} from "./_syntax.ts";
import type { Header, RequestHead } from "./types.ts";

/** How the request body is delimited (RFC 9112 §6.3). */
export type BodyKind = "none" | { length: number } | "chunked";

export interface ParsedHead {
  ok: true;
  head: RequestHead;
  bodyKind: BodyKind;
  /** Whether the connection may carry another request after this one (RFC 9112 §9.3). */
  keepAlive: boolean;
  /** `Connection: upgrade` with an `Upgrade` field, on HTTP/1.1 and without a body (RFC 9110 §7.8). */
  upgrade: boolean;
  /** Bytes of the buffer taken by this head, from `start`, including its final empty line. */
  consumed: number;
  /**
   * The field names and values this parser validated, flat (name, value, name, …): strings,
   * which nobody can change, unlike the `headers` tuples handed to `decide`. The head writer
   * skips re-validating a field that is still exactly one of these (`appendFields`).
   */
  checked: readonly string[];
  /** The buffer the head was parsed from (its bytes are never changed afterwards). */
  source: Buffer;
  /**
   * Byte offsets into `source`: where the request-line starts, where each field line starts,
   * and where the final empty line starts. Field `i` is `lines[i + 1]` to `lines[i + 2]`, CRLF
   * included: the head writer copies validated lines instead of encoding them again.
   */
  lines: readonly number[];
}

export interface HeadError {
  ok: false;
  incomplete?: undefined;
  status: number;
  reason: string;
}

export interface HeadIncomplete {
  ok: false;
  incomplete: true;
}

export type ParseHeadResult = ParsedHead | HeadError | HeadIncomplete;

export interface HeadLimits {
  /** Largest head in bytes, request line through the empty line; beyond → 431. */
  maxHeadBytes: number;
  /** Most header fields; beyond → 431. */
  maxHeaders?: number;
}

/** Most heads fit here; only longer ones are converted up to the limit. */
const FIRST_SCAN = 2048;
const INCOMPLETE: HeadIncomplete = Object.freeze({ ok: false, incomplete: true });
/** RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request-line. */
const MAX_LEADING_EMPTY_LINES = 4;
/** 2^53 − 1 has 16 digits: 15 keeps every accepted length an exact integer. */
const MAX_CONTENT_LENGTH_DIGITS = 15;

function fail(status: number, reason: string): HeadError {
  return { ok: false, status, reason };
}

/**
 * Parses one request head starting at `start`. Returns `incomplete` while the terminating
 * empty line has not arrived, but fails early on bytes that can never become a valid head
 * (bare CR or LF, RFC 9112 §2.2) so a client cannot park junk up to the size limit.
 */
export function parseHead(buf: Buffer, start: number, limits: HeadLimits): ParseHeadResult {
  const end = buf.length;
  let p = start;
  for (let skipped = 0; skipped < MAX_LEADING_EMPTY_LINES && p < end; skipped++) {
    if (buf[p] !== 0x0d) break;
    if (p + 1 >= end) return INCOMPLETE;
    if (buf[p + 1] !== 0x0a) return fail(400, "bare CR");
    p += 2;
  }
  // The head must end within maxHeadBytes of `start`. Search a latin1 string, not the
  // Buffer: string search is native in V8, Buffer.indexOf is far slower under Deno. latin1
  // maps each byte to one UTF-16 unit, so string offsets are byte offsets and obs-text
  // (0x80–0xFF) survives the round trip when the head is written out again.
  const limit = Math.min(end, start + limits.maxHeadBytes);
  let s = buf.toString("latin1", p, Math.min(limit, p + FIRST_SCAN));
  let idx = s.indexOf("\r\n\r\n");
  if (idx === -1 && p + s.length < limit) {
    s = buf.toString("latin1", p, limit);
    idx = s.indexOf("\r\n\r\n");
  }
  if (idx === -1) {
    if (end - start >= limits.maxHeadBytes) return fail(431, "head too large");
    // Not complete yet: refuse now what no later byte can make valid.
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 0x0a && (i === 0 || s.charCodeAt(i - 1) !== 0x0d)) return fail(400, "bare LF");
      if (c === 0x0d && i + 1 < s.length && s.charCodeAt(i + 1) !== 0x0a) {
        return fail(400, "bare CR");
      }
      if (c === 0x00) return fail(400, "NUL in head");
    }
    return INCOMPLETE;
  }
  const result = parseHeadText(buf, p, s, idx + 2, limits.maxHeaders ?? 100);
  if (!result.ok) return result;
  result.consumed = p - start + idx + 4;
  return result;
}

/**
 * `s` holds the head as latin1 text from the request-line (byte `p` of `buf`); its first `n`
 * characters run through the CRLF of the last field line. Validation walks the bytes (typed
 * array reads are the fastest thing V8 does); names and values are sliced from `s`.
 */
function parseHeadText(
  buf: Buffer,
  p: number,
  s: string,
  n: number,
  maxHeaders: number,
): ParsedHead | HeadError {
  // Request line (RFC 9112 §3): method SP request-target SP HTTP-version CRLF, single
  // spaces. Only the CR of a CRLF may end it: a bare CR or LF, NUL or other CTL is refused
  // (RFC 9112 §2.2: bare CR must be refused; a bare LF is refused too, because a lenient
  // parser behind us might treat it as a line end).
  const lineEnd = s.indexOf("\r\n");
  let i = p;
  while (TCHAR[buf[i]!] === 1) i++;
  const sp1 = i - p;
  if (sp1 === 0 || buf[i] !== 0x20) return fail(400, "invalid method");
  i++;
  for (;;) {
    const c = buf[i]!;
    if (c < 0x21 || c > 0x7e) break;
    i++;
  }
  const sp2 = i - p;
  // RFC 9112 §3.2: the target is a URI form: VCHAR only (no spaces, CTLs or obs-text).
  if (sp2 === sp1 + 1 || buf[i] !== 0x20) return fail(400, "invalid request target");
  if (lineEnd !== sp2 + 9) return fail(400, "malformed request line");
  const method = s.slice(0, sp1);
  const target = s.slice(sp1 + 1, sp2);
  const versionText = s.slice(sp2 + 1, lineEnd);
  let version: "1.0" | "1.1";
  if (versionText === "HTTP/1.1") version = "1.1";
  else if (versionText === "HTTP/1.0") version = "1.0";
  else if (/^HTTP\/[0-9]\.[0-9]$/.test(versionText)) {
    return fail(505, "unsupported HTTP version");
  } else return fail(400, "malformed HTTP version");

  if (method === "CONNECT") return fail(405, "CONNECT is not supported by a reverse proxy");
  const formError = checkTargetForm(method, target);
  if (formError !== null) return fail(400, formError);

  // Field lines (RFC 9112 §5): field-name ":" OWS field-value OWS CRLF.
  const headers: Header[] = [];
  const checked: string[] = [];
  const lines: number[] = [p];
  let hostCount = 0;
  let hostValue = "";
  let contentLength: string | null = null;
  let contentLengthCount = 0;
  let transferEncoding: string | null = null;
  let transferEncodingCount = 0;
  let connection = 0;
  let hasUpgrade = false;
  const headEnd = p + n;
  let ls = p + lineEnd + 2;
  lines.push(ls);
  while (ls < headEnd) {
    // RFC 9112 §5.1: the name is a token directly followed by ":" (no whitespace before
    // it). A line starting with SP/HTAB is obs-fold, which RFC 9112 §5.2 lets us refuse: a
    // proxy that forwards it lets two parsers disagree on where a field ends.
    i = ls;
    while (TCHAR[buf[i]!] === 1) i++;
    if (buf[i] !== 0x3a) {
      const c = buf[ls];
      if (c === 0x20 || c === 0x09) return fail(400, "obsolete line folding");
      return fail(400, i === ls ? "empty field name" : "invalid field name");
    }
    if (i === ls) return fail(400, "empty field name");
    const colon = i;
    // RFC 9110 §5.5: field-value octets are HTAB, SP, VCHAR, obs-text; CR only as the line
    // end. NUL, LF, other CTLs and DEL are refused (header injection, request splitting).
    for (i++;; i++) {
      const c = buf[i]!;
      if (FIELD_VCHAR[c] !== 1) break;
    }
    if (buf[i] !== 0x0d) return fail(400, "invalid field value");
    if (buf[i + 1] !== 0x0a) return fail(400, "bare CR");
    if (headers.length >= maxHeaders) return fail(431, "too many header fields");
    const name = s.slice(ls - p, colon - p);
    const value = trimOws(s, colon + 1 - p, i - p);
    headers.push([name, value]);
    checked.push(name, value);
    ls = i + 2;
    lines.push(ls);
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === "host") {
          hostCount++;
          hostValue = value;
        }
        break;
      case 7:
        if (name.toLowerCase() === "upgrade" && value !== "") hasUpgrade = true;
        break;
      case 10:
        if (name.toLowerCase() === "connection") connection |= connectionFlags(value);
        break;
      case 14: {
        const lower = name.toLowerCase();
        if (lower === "content-length") {
          contentLengthCount++;
          contentLength = value;
        } else if (lower === "content_length") return fail(400, "framing field look-alike");
        break;
      }
      case 17: {
        const lower = name.toLowerCase();
        if (lower === "transfer-encoding") {
          transferEncodingCount++;
          transferEncoding = value;
        } else if (lower === "transfer_encoding") {
          // Valid token, but CGI-style backends map "_" to "-" (HTTP_TRANSFER_ENCODING): a
          // second framing field we would not see. nginx drops such names; we refuse them.
          return fail(400, "framing field look-alike");
        }
        break;
      }
    }
  }

  // RFC 9112 §3.2: 400 for an HTTP/1.1 request without Host, with several, or an invalid one.
  if (hostCount > 1) return fail(400, "multiple Host fields");
  if (hostCount === 0 && version === "1.1") return fail(400, "missing Host");
  if (hostCount === 1 && !isHostValue(hostValue)) return fail(400, "invalid Host");

  let bodyKind: BodyKind = "none";
  if (transferEncodingCount > 0) {
    // RFC 9112 §6.1: TE in HTTP/1.0 means the framing is faulty.
    if (version === "1.0") return fail(400, "Transfer-Encoding in HTTP/1.0");
    // RFC 9112 §6.1/§11.2: a message with both is a smuggling attempt; refusing is allowed
    // and leaves no interpretation for a backend to disagree with.
    if (contentLengthCount > 0) return fail(400, "both Content-Length and Transfer-Encoding");
    // Only `chunked`, alone and once: a second TE line, a coding list ("chunked, identity",
    // "gzip, chunked") or a look-alike ("xchunked", "chunked\t;") is refused. RFC 9112 §6.1
    // suggests 501 for unknown codings; we answer 400 since such heads are mostly probes and
    // the connection is closed either way. Transfer-coding names are case-insensitive (RFC 9112
    // §7).
    if (transferEncodingCount > 1) return fail(400, "repeated Transfer-Encoding");
    if (transferEncoding!.toLowerCase() !== "chunked") {
      return fail(400, "unsupported Transfer-Encoding");
    }
    bodyKind = "chunked";
  } else if (contentLengthCount > 0) {
    // RFC 9110 §8.6: Content-Length = 1*DIGIT. Repeats (even identical) and lists are refused
    // rather than reconciled, and so are signs, spaces inside, hex and overflow.
    if (contentLengthCount > 1) return fail(400, "repeated Content-Length");
    const cl = contentLength!;
    if (cl.length === 0 || cl.length > MAX_CONTENT_LENGTH_DIGITS) {
      return fail(400, "invalid Content-Length");
    }
    for (let i = 0; i < cl.length; i++) {
      const c = cl.charCodeAt(i);
      if (c < 0x30 || c > 0x39) return fail(400, "invalid Content-Length");
    }
    const length = Number(cl);
    if (length > 0) bodyKind = { length };
  }

  const keepAlive = version === "1.1"
    ? (connection & CONN_CLOSE) === 0
    : (connection & CONN_KEEP_ALIVE) !== 0 && (connection & CONN_CLOSE) === 0;
  // RFC 9110 §7.8: Upgrade is ignored in HTTP/1.0. A request with a body is not treated as an
  // upgrade (the server MAY ignore Upgrade): bytes after it would be ambiguous.
  const upgrade = version === "1.1" && hasUpgrade && (connection & CONN_UPGRADE) !== 0 &&
    bodyKind === "none";
  return {
    ok: true,
    head: { method, target, version, headers },
    bodyKind,
    keepAlive,
    upgrade,
    consumed: 0,
    checked,
    source: buf,
    lines,
  };
}

/** RFC 9112 §3.2: origin-form, absolute-form, or asterisk-form (OPTIONS only). */
function checkTargetForm(method: string, target: string): string | null {
  const c = target.charCodeAt(0);
  if (c === 0x2f) return null; // "/"
  if (target === "*") return method === "OPTIONS" ? null : "asterisk-form is only for OPTIONS";
  // absolute-form: scheme "://" … (RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ))
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]/.test(target)) return null;
  return "invalid request target form";
}
