/**
 * The proxy's accept loop. Near the file-descriptor limit `accept()` fails with EMFILE (or
 * ENFILE); a plain `for await` over the listener ends on that error, and the proxy silently
 * stopped accepting for good (issue 13: connections near the limit failed with nothing logged).
 * Here the failure is counted, logged at most once per interval, and the loop pauses briefly
 * (the kernel keeps the pending connections queued) and goes on accepting.
 */
import type { Logger } from "../shared/log.ts";

export interface AcceptOptions {
  log: Logger;
  /** Longest gap between two "out of descriptors" log lines (default 10 s). */
  logIntervalMs?: number;
  /** Pause after a failed accept, so a full table does not spin the loop (default 50 ms). */
  pauseMs?: number;
}

/** EMFILE (process) or ENFILE (system): no descriptor for the accepted connection. */
export function isOutOfDescriptors(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "EMFILE" || code === "ENFILE";
}

/** Accepts until the listener is closed, handing each connection to `onConn`. */
export async function acceptLoop(
  listener: { accept(): Promise<Deno.Conn> },
  onConn: (conn: Deno.Conn) => void,
  options: AcceptOptions,
): Promise<void> {
  const logIntervalMs = options.logIntervalMs ?? 10_000;
  const pauseMs = options.pauseMs ?? 50;
  let refused = 0;
  let loggedAt = -Infinity;
  for (;;) {
    let conn: Deno.Conn;
    try {
      conn = await listener.accept();
    } catch (err) {
      if (err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted) return;
      refused++;
      const now = Date.now();
      if (now - loggedAt >= logIntervalMs) {
        loggedAt = now;
        options.log.error(
          isOutOfDescriptors(err)
            ? "Cannot accept connections: out of file descriptors; raise the limit (ulimit -n)"
            : "Cannot accept a connection",
          { failedAccepts: refused, err },
        );
        refused = 0;
      }
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      continue;
    }
    onConn(conn);
  }
}
