/**
 * The `--workers 2` part of `deno task bench:proxy` (issue 13's targets): how the kernel spreads
 * load over two workers sharing the port, read from the proxy's own per-worker counter
 * (`plane_proxy_worker_requests_total{worker}` on `--metrics-port`), and how long a revoked
 * token keeps working on each of them. `plane proxy --workers 2` runs as users start it
 * (`proxy_plane.ts`); the revocation is the fake controller's `TokenRevoked`, sent while
 * keep-alive connections pinned to both workers keep asking with that token.
 *
 * @module
 */
import { startPlaneProxy } from "./proxy_plane.ts";
import { freePort } from "../testing/free_port.ts";
import { waitFor } from "../testing/wait_for.ts";
import { randomToken } from "../shared/mod.ts";

/** Connections that keep asking with the revoked token (spread by the kernel over workers). */
const REVOKE_CONNS = 16;
/** Longest the revocation is watched for. */
const REVOKE_WATCH_MS = 5_000;

export interface WorkerSpread {
  /** Responses per worker during the load. */
  perWorker: number[];
  /** Milliseconds from `TokenRevoked` until every connection got a 410; null: not all did. */
  revokeMs: number | null;
  /** Workers that held at least one of the connections asking with the revoked token. */
  workersAsking: number;
}

type Load = (port: number, seconds: number, target: { path: string; host: string }) => Promise<
  unknown
>;

async function workerCounts(metricsPort: number): Promise<number[]> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const counts: number[] = [];
  for (const m of text.matchAll(/^plane_proxy_worker_requests_total\{worker="(\d+)"\} (\S+)$/gm)) {
    counts[Number(m[1])] = Number(m[2]);
  }
  return Array.from(counts, (n) => n ?? 0);
}

/** One request on a keep-alive connection; the status of its answer (body read and dropped). */
async function ask(conn: Deno.Conn, request: Uint8Array, buf: Uint8Array): Promise<number> {
  await conn.write(request);
  let text = "";
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) throw new Error("Connection closed before the answer");
    text += new TextDecoder().decode(buf.subarray(0, n));
    const end = text.indexOf("\r\n\r\n");
    if (end < 0) continue;
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end))?.[1] ?? 0);
    if (text.length - (end + 4) >= length) return Number(text.slice(9, 12));
  }
}

export async function measureWorkerSpread(
  backendPort: number,
  load: Load,
  seconds: number,
): Promise<WorkerSpread> {
  const metricsPort = freePort();
  const proxy = await startPlaneProxy(backendPort, [
    "--workers",
    "2",
    "--metrics-port",
    String(metricsPort),
  ]);
  const conns: Deno.Conn[] = [];
  try {
    // The metrics listener may come up just after the proxy's first routed answer.
    await waitFor(() => workerCounts(metricsPort).then((c) => c.length === 2, () => false), {
      message: "plane proxy's /metrics with two workers",
    });
    const before = await workerCounts(metricsPort);
    await load(proxy.port, seconds, { path: `/${proxy.token}/`, host: proxy.cluster });
    const after = await workerCounts(metricsPort);
    const perWorker = after.map((n, i) => n - (before[i] ?? 0));

    const revoked = randomToken();
    proxy.controller.routes.set(revoked, proxy.controller.routes.get(proxy.token)!);
    const request = new TextEncoder().encode(
      `GET /${revoked}/ HTTP/1.1\r\nHost: ${proxy.cluster}\r\n\r\n`,
    );
    const buf = new Uint8Array(4096);
    const asking = await workerCounts(metricsPort);
    for (let i = 0; i < REVOKE_CONNS; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
      conns.push(conn);
      const status = await ask(conn, request, buf);
      if (status !== 200) throw new Error(`The token to revoke answered ${status}`);
    }
    const asked = await workerCounts(metricsPort);
    const workersAsking = asked.filter((n, i) => n - (asking[i] ?? 0) > 0).length;

    const sent = performance.now();
    proxy.controller.send({ TokenRevoked: { token: revoked } });
    const times = await Promise.all(conns.map(async (conn) => {
      const own = new Uint8Array(4096);
      while (performance.now() - sent < REVOKE_WATCH_MS) {
        if (await ask(conn, request, own) === 410) return performance.now() - sent;
      }
      return null;
    }));
    const revokeMs = times.some((t) => t === null) ? null : Math.max(...(times as number[]));
    return { perWorker, revokeMs, workersAsking };
  } finally {
    for (const conn of conns) {
      try {
        conn.close();
      } catch { /* closed */ }
    }
    await proxy.stop();
  }
}
