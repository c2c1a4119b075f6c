/**
 * The proxy's accept loop. Near the file-descriptor limit `accept()` fails with EMFILE (or
 * ENFILE); a plain `for await` over the listener ends on that error, and the proxy silently
 * stopped accepting for good (issue 13: connections near the limit failed with nothing logged).
 * Here the failure is counted, logged at most once per interval, and the loop pauses briefly
 * (the kernel keeps the pending connections queued) and goes on accepting.
 */
import { delay, type Logger } from "../shared/mod.ts";

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

/**
 * Logs failures to get a descriptor (accepting a client, connecting to a backend) and clients
 * refused at the connection cap (`connection_cap.ts`; `err` is then the cap) at most once per
 * interval, with how many there were: near the limit they come by the thousand.
 */
export function descriptorAlarm(
  log: Logger,
  options: { intervalMs?: number | undefined } = {},
): (what: "accept" | "connect" | "refuse", err: unknown) => void {
  const intervalMs = options.intervalMs ?? 10_000;
  const failed = { accept: 0, connect: 0, refuse: 0 };
  const loggedAt = { accept: -Infinity, connect: -Infinity, refuse: -Infinity };
  return (what, err) => {
    // Other connect failures (a backend gone, refused) are ordinary 502s, not an alarm.
    if (what === "connect" && !isOutOfDescriptors(err)) return;
    failed[what]++;
    const now = Date.now();
    if (now - loggedAt[what] < intervalMs) return;
    loggedAt[what] = now;
    const fields = what === "accept"
      ? { failedAccepts: failed.accept, err }
      : what === "connect"
      ? { failedConnects: failed.connect, err }
      : { refusedConnections: failed.refuse, limit: err };
    failed[what] = 0;
    if (what === "refuse") {
      log.error(
        "Refusing connections with 503: at the connection limit, which keeps two descriptors " +
          "per connection under the descriptor limit; raise the limit (ulimit -n) or " +
          "--max-connections",
        fields,
      );
    } else if (what === "accept") {
      log.error(
        isOutOfDescriptors(err)
          ? "Cannot accept connections: out of file descriptors; raise the limit (ulimit -n)"
          : "Cannot accept a connection",
        fields,
      );
    } else {
      log.error(
        "Cannot connect to backends: out of file descriptors (answered 502); raise the limit " +
          "(ulimit -n)",
        fields,
      );
    }
  };
}

/** Accepts until the listener is closed, handing each connection to `onConn`. */
export async function acceptLoop(
  listener: { accept(): Promise<Deno.Conn> },
  onConn: (conn: Deno.Conn) => void,
  options: AcceptOptions,
): Promise<void> {
  const alarm = descriptorAlarm(options.log, { intervalMs: options.logIntervalMs });
  const pauseMs = options.pauseMs ?? 50;
  for (;;) {
    let conn: Deno.Conn;
    try {
      conn = await listener.accept();
    } catch (err) {
      if (err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted) return;
      alarm("accept", err);
      await delay(pauseMs);
      continue;
    }
    onConn(conn);
  }
}
