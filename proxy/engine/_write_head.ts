/**
 * Builders for the heads the engine writes. Framing and connection-management fields are
 * always the engine's own (RFC 9110 §7.6.1: hop-by-hop fields are not forwarded; RFC 9112 §6:
 * framing belongs to one connection), whatever `decide` or `responseHeaders` returned.
 * Every other field is checked before it is written, so a routing bug can never inject a CR
 * or LF into a head.
 */
import { Buffer } from "node:buffer";
import { connectionNominees, isFieldValue, isHopByHop, isToken, REASONS } from "./_syntax.ts";
import type { ParsedHead } from "./parse_head.ts";
import type { Core } from "./_core.ts";
import type { ForwardDecision, Header, RequestHead } from "./types.ts";

export interface WriteCounters {
  droppedHeaders: number;
}

/**
 * Appends the end-to-end fields of `headers` as `name: value\r\n` lines. Fields named by
 * `Connection` are hop-by-hop too (RFC 9110 §7.6.1), but only the sender's own: a `Connection`
 * list names fields of the message it came in, so it drops received fields (those equal to one
 * in `checked`), never a field `decide` or `responseHeaders` added or changed, and never `Host`
 * (issue 10, finding 2a: `Connection: x-verified-username` must not remove the proxy's
 * header). With `keepUpgrade`, `Upgrade` is kept (an upgrade request or its 101 answer).
 *
 * `checked` holds the names and values a parser already validated (flat pairs, in received
 * order): a field equal to one of them is not checked again, so only the fields `decide` or
 * `responseHeaders` added or changed pay for validation. Routing code keeps order and adds or
 * drops a few fields, so a cursor that only moves forward finds the matches.
 */
export function appendFields(
  headers: readonly Header[],
  counters: WriteCounters,
  keepUpgrade: boolean,
  checked: readonly string[] = NONE,
): string {
  startWalk(headers, keepUpgrade, checked);
  let out = "";
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!;
    if (walkField(h[0], h[1], counters) !== SKIP) out += h[0] + ": " + h[1] + "\r\n";
  }
  endWalk();
  return out;
}

// The field walk shared by `appendFields` and `spliceHead`, in module state because calls
// never overlap and this is the hot path (no object per head).
let walkHeaders: readonly Header[] = [];
let walkKeepUpgrade = false;
let walkChecked: readonly string[] = [];
let walkNominees: Set<string> | null | undefined;
let walkCursor = 0;
/** `walkField`: leave the field out. */
const SKIP = -1;
/** `walkField`: a valid field that matches no received one: encode it. */
const ENCODE = -2;

function startWalk(
  headers: readonly Header[],
  keepUpgrade: boolean,
  checked: readonly string[],
): void {
  walkHeaders = headers;
  walkKeepUpgrade = keepUpgrade;
  walkChecked = checked;
  walkNominees = undefined;
  walkCursor = 0;
}

function endWalk(): void {
  walkHeaders = walkChecked = NONE_HEADERS;
  walkNominees = undefined;
}

/**
 * What a head writer does with the next field of the walk: `SKIP` (hop-by-hop, named by
 * `Connection`, or invalid: counted), the index in `checked` of the received field it still
 * equals (copy those bytes), or `ENCODE`.
 */
function walkField(name: string, value: string, counters: WriteCounters): number {
  if (isHopByHop(name)) {
    if (!walkKeepUpgrade || name.length !== 7) return SKIP;
  }
  const checked = walkChecked;
  let k = walkCursor;
  while (k < checked.length && (checked[k] !== name || checked[k + 1] !== value)) k += 2;
  if (k < checked.length) {
    walkCursor = k + 2;
    // A received field: the sender's `Connection` list applies to it (RFC 9110 §7.6.1).
    if (walkNominees === undefined) walkNominees = connectionNominees(walkHeaders);
    if (walkNominees !== null && walkNominees.has(name.toLowerCase())) {
      if (name.length !== 4 || name.toLowerCase() !== "host") return SKIP;
    }
    return k;
  }
  if (isToken(name) && isFieldValue(value)) return ENCODE;
  counters.droppedHeaders++;
  return SKIP;
}

const NONE: readonly string[] = Object.freeze([]);
const NONE_HEADERS: readonly never[] = Object.freeze([]);

export function statusLine(status: number, reason?: string): string {
  return "HTTP/1.1 " + status + " " + (reason ?? REASONS[status] ?? "") + "\r\n";
}

/** Value of the first field named `lowerName` (compared case-insensitively), or undefined. */
export function findField(headers: readonly Header[], lowerName: string): string | undefined {
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!;
    if (h[0].length === lowerName.length && h[0].toLowerCase() === lowerName) return h[1];
  }
  return undefined;
}

const TARGET_RE = /^[\x21-\x7e]+$/;

/** RFC 9112 §3.1/§3.2: the method is a token; the target is VCHARs with no spaces. */
export function validRequestLine(method: string, target: string): boolean {
  return isToken(method) && TARGET_RE.test(target);
}

const encoder = new TextEncoder();
/** Bodies up to this size are copied behind the head and sent in one write. */
const COALESCE_MAX = 16 * 1024;

/**
 * The head as latin1 bytes, with `body` copied behind it when small (one socket write, one
 * TCP segment). `Buffer.from(string)` is slow under Deno; `encodeInto` is UTF-8, so a head
 * with obs-text falls back to a plain loop (a loop for every head measured slower).
 */
export function headBytes(head: string, body: Uint8Array | null): Buffer {
  const n = head.length;
  const bodyLength = body !== null && body.length <= COALESCE_MAX ? body.length : 0;
  const out = Buffer.allocUnsafe(n + bodyLength);
  const r = encoder.encodeInto(head, out);
  if (r.written !== n || r.read !== n) {
    for (let i = 0; i < n; i++) out[i] = head.charCodeAt(i);
  }
  if (bodyLength > 0) out.set(body!, n);
  return out;
}

/** Whether `headBytes` took the body along. */
export function coalesced(body: Uint8Array): boolean {
  return body.length <= COALESCE_MAX;
}

/**
 * A whole response the engine makes itself: status line, the `errorResponse` headers and body
 * (`withBody` false: a HEAD request's answer, length only), then `connection` (a
 * `Connection: …\r\n` line or ""). `request`: the request's head, when one was parsed.
 * Error bodies are small: one write.
 */
export function errorBytes(
  core: Core,
  status: number,
  reason: string,
  withBody: boolean,
  connection: string,
  request?: RequestHead,
): Uint8Array {
  const { headers, body } = core.errorResponse(status, reason, request);
  const bytes = body === "" ? null : Buffer.from(body);
  const head = statusLine(status) + appendFields(headers, core.stats, false) +
    "Content-Length: " + (bytes === null ? 0 : bytes.length) + "\r\n" + connection + "\r\n";
  if (!withBody || bytes === null) return headBytes(head, null);
  if (coalesced(bytes)) return headBytes(head, bytes);
  return Buffer.concat([headBytes(head, null), bytes]);
}

const SHORT_TEXT = 64;
const SHORT_COPY = 96;

/** A parsed head's received bytes: see `ParsedHead.lines`. */
export interface HeadSource {
  source: Buffer;
  lines: readonly number[];
  checked: readonly string[];
}

/**
 * The upstream request head for `d`, as bytes. Where `d.head` still holds exactly what the
 * parser validated (the request-line, runs of unchanged fields), the received bytes are
 * copied rather than re-encoded: routing usually adds a field or two and leaves the rest
 * alone. Changed or added fields are checked as in `appendFields`.
 */
export function requestHeadBytes(
  req: ParsedHead,
  d: ForwardDecision,
  counters: WriteCounters,
): Uint8Array {
  const head = d.head;
  const kind = req.bodyKind;
  // RFC 9110 §7.6.1: the engine writes Connection and framing itself; everything else is
  // the decision's. RFC 9112 §3.2: a 1.1 request needs Host, so a 1.0 client's gets one.
  let tail = "";
  if (findField(head.headers, "host") === undefined) {
    tail += "Host: " + d.hostname + ":" + d.port + "\r\n";
  }
  if (req.upgrade) tail += "Connection: upgrade\r\n";
  if (kind === "chunked") tail += "Transfer-Encoding: chunked\r\n";
  else if (kind !== "none") tail += "Content-Length: " + kind.length + "\r\n";
  const orig = req.head;
  const same = orig.version === "1.1" && head.method === orig.method &&
    head.target === orig.target;
  const line = same ? null : head.method + " " + head.target + " HTTP/1.1\r\n";
  return spliceHead(req, line, head.headers, req.upgrade, counters, tail + "\r\n", null);
}

// Heads are cut from a slab of our own: `Buffer.allocUnsafe` does the same from an 8 KiB
// pool, but pays for a Buffer object each time and refills the pool more often. A view pins
// its slab while it lives, so nobody keeps one past its write.
const SLAB = 64 * 1024;
let slab = new ArrayBuffer(SLAB);
let slabUsed = 0;

function allocOut(n: number): Uint8Array {
  if (n > SLAB / 8) return new Uint8Array(n);
  if (SLAB - slabUsed < n) {
    slab = new ArrayBuffer(SLAB);
    slabUsed = 0;
  }
  const out = new Uint8Array(slab, slabUsed, n);
  // Views start on 8-byte boundaries, as Buffer's pool does.
  slabUsed = (slabUsed + n + 7) & ~7;
  return out;
}

// The plan of a head being spliced, reused by every call (they never overlap): pairs of
// [start, end) source ranges, or [-1, index into PLAN_TEXTS].
const PLAN: number[] = [];
const PLAN_TEXTS: string[] = [];

function planCopy(start: number, end: number): void {
  const n = PLAN.length;
  if (n > 0 && PLAN[n - 2]! >= 0 && PLAN[n - 1] === start) PLAN[n - 1] = end;
  else PLAN.push(start, end);
}

function planText(text: string): void {
  if (text === "") return;
  PLAN.push(-1, PLAN_TEXTS.length);
  PLAN_TEXTS.push(text);
}

/**
 * A head as bytes: `firstLine` (null: the received one, copied), then the end-to-end fields
 * of `headers` with the rules of `appendFields` (fields still equal to a received one are
 * copied from `src`, the others checked and encoded), then `tail`, then `body` when small
 * (one write, as `headBytes`).
 */
export function spliceHead(
  src: HeadSource,
  firstLine: string | null,
  headers: readonly Header[],
  keepUpgrade: boolean,
  counters: WriteCounters,
  tail: string,
  body: Uint8Array | null,
): Uint8Array {
  const lines = src.lines;
  PLAN.length = 0;
  PLAN_TEXTS.length = 0;
  let text = "";
  if (firstLine === null) planCopy(lines[0]!, lines[1]!);
  else text = firstLine;
  startWalk(headers, keepUpgrade, src.checked);
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!;
    const k = walkField(h[0], h[1], counters);
    if (k === SKIP) continue;
    if (k >= 0) {
      planText(text);
      text = "";
      planCopy(lines[k / 2 + 1]!, lines[k / 2 + 2]!);
    } else text += h[0] + ": " + h[1] + "\r\n";
  }
  endWalk();
  planText(text + tail);
  let headLength = 0;
  for (let i = 0; i < PLAN.length; i += 2) {
    const a = PLAN[i]!;
    headLength += a >= 0 ? PLAN[i + 1]! - a : PLAN_TEXTS[PLAN[i + 1]!]!.length;
  }
  const bodyLength = body !== null && body.length <= COALESCE_MAX ? body.length : 0;
  const out = allocOut(headLength + bodyLength);
  const bytes = src.source;
  let pos = 0;
  for (let i = 0; i < PLAN.length; i += 2) {
    const a = PLAN[i]!;
    if (a >= 0) {
      const b = PLAN[i + 1]!;
      if (b - a > SHORT_COPY) {
        // A plain view: `Buffer#subarray` goes through the slower Buffer species constructor.
        out.set(new Uint8Array(bytes.buffer, bytes.byteOffset + a, b - a), pos);
        pos += b - a;
      } else {
        // A field line or two: a loop costs less than a view and a `set`.
        for (let j = a; j < b; j++) out[pos++] = bytes[j]!;
      }
      continue;
    }
    const t = PLAN_TEXTS[PLAN[i + 1]!]!;
    // Short text (an added field or two): a loop costs less than the `encodeInto` op call.
    if (t.length > SHORT_TEXT) {
      const r = encoder.encodeInto(t, new Uint8Array(out.buffer, out.byteOffset + pos, t.length));
      if (r.written === t.length && r.read === t.length) {
        pos += t.length;
        continue;
      }
    }
    for (let j = 0; j < t.length; j++) out[pos + j] = t.charCodeAt(j);
    pos += t.length;
  }
  if (bodyLength > 0) out.set(body!, pos);
  return out;
}
