/**
 * The `--metrics-port` listener of `plane drone` and `plane proxy` (issue 15): `GET /metrics`
 * in Prometheus text format on its own port, loopback by default, so the series never share
 * the proxy's public port. The controller serves its `/metrics` on its API port instead
 * (`controller/routes/metrics.ts`), since it must also run under `deno serve`.
 */
import process from "node:process";
import { type Logger, METRICS_CONTENT_TYPE, type ProcessReaders } from "../shared/mod.ts";

/** This process's memory and CPU, for `startProcessSampler`. */
export const PROCESS_READERS: ProcessReaders = {
  rss: () => Deno.memoryUsage().rss,
  heap: () => {
    const { heapUsed, heapTotal } = Deno.memoryUsage();
    return { used: heapUsed, total: heapTotal };
  },
  cpuMicros: () => process.cpuUsage(),
};

export interface MetricsServer {
  /** `http://host:port` (the bound port when asked for 0). */
  readonly url: string;
  close(): Promise<void>;
}

/** Binds `hostname:port` and answers `GET /metrics` with `render()`; logs "Metrics listening". */
export function serveMetrics(
  options: { hostname: string; port: number },
  render: () => Promise<string> | string,
  log: Logger,
): MetricsServer {
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve(
      { hostname: options.hostname, port: options.port, onListen() {} },
      async (req) => {
        const path = new URL(req.url).pathname;
        if (path !== "/metrics") return new Response("Not found: try /metrics\n", { status: 404 });
        if (req.method !== "GET" && req.method !== "HEAD") {
          return new Response("Method not allowed: use GET\n", {
            status: 405,
            headers: { allow: "GET, HEAD" },
          });
        }
        try {
          return new Response(await render(), {
            headers: { "content-type": METRICS_CONTENT_TYPE },
          });
        } catch (err) {
          log.error("Could not gather metrics", { err });
          return new Response("Could not gather metrics\n", { status: 500 });
        }
      },
    );
  } catch (err) {
    throw new Error(
      `Cannot listen for metrics on ${options.hostname}:${options.port}: ${
        (err as Error).message
      }; choose another --metrics-port`,
      { cause: err },
    );
  }
  const addr = server.addr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  const url = `http://${host}:${addr.port}`;
  log.info("Metrics listening", { url: `${url}/metrics` });
  return { url, close: () => server.shutdown() };
}
