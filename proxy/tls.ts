/**
 * HTTPS for the proxy (plane-0.5.md §7.1, §10.4), without ACME: Plane's certificate JSON
 * `{"cert": PEM chain, "key": PEM key}` is loaded at start (the HTTPS listener waits for it),
 * and re-read when the file changes so a renewed certificate reaches new handshakes while
 * open connections carry on. The HTTP listener then only redirects to HTTPS.
 */
import type { RequestHead, RespondDecision } from "./engine/mod.ts";
import { respond, singleHeader, splitTarget } from "./request.ts";

export interface CertPair {
  cert: string;
  key: string;
}

/** Parses Plane's certificate file (plane-0.5.md §10.4); an Error says what is wrong. */
export function parseCertFile(text: string): CertPair | Error {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return new Error(`Cannot parse the certificate file: not JSON (${(err as Error).message})`);
  }
  if (typeof json !== "object" || json === null) {
    return new Error("Cannot parse the certificate file: expected an object {cert, key}");
  }
  const { cert, key } = json as Record<string, unknown>;
  if (typeof cert !== "string" || !cert.includes("-----BEGIN CERTIFICATE-----")) {
    return new Error('Cannot parse the certificate file: "cert" is not a PEM certificate chain');
  }
  if (typeof key !== "string" || !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) {
    return new Error('Cannot parse the certificate file: "key" is not a PEM private key');
  }
  return { cert, key };
}

/**
 * plane-0.5.md §7.1: the `Location` of the HTTP listener's redirect, `https://{host without
 * port}{path} {?query}`; null when the Host is missing or not a host (→ 400).
 */
export function httpsRedirectLocation(
  host: string | null,
  target: string,
): string | null {
  if (host === null) return null;
  let name = host.trim().toLowerCase();
  if (name.startsWith("[")) {
    const end = name.indexOf("]");
    if (end < 0) return null;
    name = name.slice(0, end + 1);
  } else {
    const colon = name.indexOf(":");
    if (colon >= 0) name = name.slice(0, colon);
  }
  if (name === "" || !/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)$/.test(name)) return null;
  const split = splitTarget(target);
  if (split === null) return null;
  return `https://${name}${split.path}${split.query}`;
}

/**
 * The HTTP listener's whole behaviour with HTTPS on (plane-0.5.md §7.1): everything, `/ready`
 * included, redirects.
 */
export function redirectDecision(head: RequestHead): RespondDecision {
  const host = singleHeader(head.headers, "host");
  const location = httpsRedirectLocation(host === "many" ? null : host, head.target);
  if (location === null) {
    const message = "Invalid Host: send one Host naming this proxy";
    return respond(400, { message, request: head.headers });
  }
  return respond(301, { headers: [["Location", location]] });
}

/**
 * Watches a certificate file by polling its modification time (robust to the
 * write-then-rename a renewal does) and calls `onChange` with each new valid pair; an invalid
 * file is reported and the current certificate kept.
 */
export function watchCertFile(
  path: string,
  handlers: { onChange(pair: CertPair): void; onError(err: Error): void },
  options: { intervalMs?: number; initialMtime?: number | null } = {},
): { close(): void } {
  let last = options.initialMtime ?? null;
  let busy = false;
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    try {
      const info = await Deno.stat(path).catch(() => null);
      const mtime = info?.mtime?.getTime() ?? null;
      if (mtime === null || mtime === last) return;
      last = mtime;
      const pair = parseCertFile(await Deno.readTextFile(path));
      if (pair instanceof Error) handlers.onError(pair);
      else handlers.onChange(pair);
    } catch (err) {
      handlers.onError(err as Error);
    } finally {
      busy = false;
    }
  }, options.intervalMs ?? 2_000);
  return { close: () => clearInterval(timer) };
}

/** Reads the certificate file now: the pair and its modification time, or null if absent/invalid. */
export async function readCertFile(
  path: string,
): Promise<{ pair: CertPair; mtime: number | null } | Error | null> {
  const info = await Deno.stat(path).catch(() => null);
  if (info === null) return null;
  const pair = parseCertFile(await Deno.readTextFile(path));
  if (pair instanceof Error) return pair;
  return { pair, mtime: info.mtime?.getTime() ?? null };
}
