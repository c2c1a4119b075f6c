/**
 * Plane's readiness probe (plane-0.5.md §3.6): a raw TCP `HEAD / HTTP/1.1` whose first five
 * bytes of reply must be `HTTP/` — any status counts, a non-HTTP server never becomes ready.
 * Retried every 100 ms up to the startup limit (300 s).
 */
import { delay } from "../../shared/mod.ts";
const PROBE = new TextEncoder().encode("HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\n");
const HTTP = "HTTP/";

export const READY_POLL_MS = 100;
export const STARTUP_TIMEOUT_MS = 300_000;

/** One probe: true when `address` answered with `HTTP/` within `timeoutMs`. */
export async function probeHttp(address: string, timeoutMs = 1_000): Promise<boolean> {
  const colon = address.lastIndexOf(":");
  const hostname = address.slice(0, colon).replace(/^\[|\]$/g, "");
  const port = Number(address.slice(colon + 1));
  let conn: Deno.TcpConn | null = null;
  const timer = setTimeout(() => conn?.close(), timeoutMs);
  try {
    conn = await Deno.connect({ hostname, port });
    await conn.write(PROBE);
    const buf = new Uint8Array(5);
    let read = 0;
    while (read < 5) {
      const n = await conn.read(buf.subarray(read));
      if (n === null) break;
      read += n;
    }
    return new TextDecoder().decode(buf.subarray(0, read)) === HTTP;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch {
      // Already closed by the timeout.
    }
  }
}

/** Probes until ready, the signal aborts (throws), or `timeoutMs` passes ("timeout"). */
export async function waitForHttp(
  address: string,
  options: { signal?: AbortSignal; timeoutMs?: number; pollMs?: number } = {},
): Promise<"ready" | "timeout"> {
  const deadline = Date.now() + (options.timeoutMs ?? STARTUP_TIMEOUT_MS);
  for (;;) {
    options.signal?.throwIfAborted();
    if (await probeHttp(address)) return "ready";
    if (Date.now() >= deadline) return "timeout";
    await delay(options.pollMs ?? READY_POLL_MS, { signal: options.signal });
  }
}
