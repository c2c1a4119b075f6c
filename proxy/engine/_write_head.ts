/**
 * Builders for the heads the engine writes. Framing and connection-management fields are
 * always the engine's own (RFC 9110 §7.6.1: hop-by-hop fields are not forwarded; RFC 9112 §6:
 * framing belongs to one connection), whatever `decide` or `responseHeaders` returned.
 * Every other field is checked before it is written, so a routing bug can never inject a CR
 * or LF into a head.
 */
import { Buffer } from "node:buffer";
import { connectionNominees, isFieldValue, isHopByHop, isToken, REASONS } from "./_syntax.ts";
import type { Header } from "./types.ts";

export interface WriteCounters {
  droppedHeaders: number;
}

/**
 * Appends the end-to-end fields of `headers` as `name: value\r\n` lines. Fields named by
 * `Connection` are hop-by-hop too (RFC 9110 §7.6.1). With `keepUpgrade`, `Upgrade` is kept
 * (an upgrade request or its 101 answer).
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
  let nominees: Set<string> | null | undefined;
  let out = "";
  let cursor = 0;
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!;
    const name = h[0];
    const value = h[1];
    if (isHopByHop(name)) {
      if (!keepUpgrade || name.length !== 7) continue;
    }
    if (nominees === undefined) nominees = connectionNominees(headers);
    if (nominees !== null && nominees.has(name.toLowerCase())) continue;
    let k = cursor;
    while (k < checked.length && (checked[k] !== name || checked[k + 1] !== value)) k += 2;
    if (k < checked.length) cursor = k + 2;
    else if (!isToken(name) || !isFieldValue(value)) {
      counters.droppedHeaders++;
      continue;
    }
    out += name + ": " + value + "\r\n";
  }
  return out;
}

const NONE: readonly string[] = Object.freeze([]);

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
 * TCP segment). `Buffer.from(string)` is slow under Deno and `encodeInto` is an op call
 * (and UTF-8); for a few hundred bytes a plain loop is fastest and exact for obs-text.
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
