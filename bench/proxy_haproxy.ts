/**
 * HAProxy beside nginx in `proxy.ts` (Debian's `haproxy`): one process, one thread
 * (`nbthread 1`), upstream keep-alive, routing `/<token>/…` like `plane proxy` (token stripped,
 * the six `REFERENCE_HEADERS` set) and relaying `/` as is.
 *
 * @module
 */
import { REFERENCE_HEADERS, type ReferenceRoute, waitForPort } from "./proxy_nginx.ts";
import { freePort } from "../testing/free_port.ts";

export interface Haproxy {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** HAProxy's spelling of a reference header value (`$path`, `$peer`); quoted for the config. */
function haproxyValue(value: string): string {
  if (value === "$path") return "%[path]";
  if (value === "$peer") return "%[src]";
  return `"${value.replaceAll('"', '\\"')}"`;
}

export async function startHaproxy(
  binary: string,
  backendPort: number,
  route: ReferenceRoute,
): Promise<Haproxy> {
  const dir = await Deno.makeTempDir({ prefix: "bench_haproxy_" });
  const port = freePort();
  const prefix = `/${route.token}/`;
  const conf = `
global
  nbthread 1
  maxconn 8000
defaults
  mode http
  timeout connect 10s
  timeout client 3600s
  timeout server 3600s
  timeout tunnel 3600s
  http-reuse always
frontend bench
  bind 127.0.0.1:${port}
  acl routed path_beg ${prefix}
${
    REFERENCE_HEADERS.map(([name, value]) =>
      `  http-request set-header ${name} ${haproxyValue(value)} if routed`
    ).join("\n")
  }
  http-request set-header x-bench 1 if !routed
  # Last: the acl reads the path, which this rewrites.
  http-request set-path %[path,regsub(^${prefix},/)] if routed
  default_backend app
backend app
  server app 127.0.0.1:${backendPort}
`;
  await Deno.writeTextFile(`${dir}/haproxy.cfg`, conf);
  const process = new Deno.Command(binary, {
    // -db: foreground, no master process: the pid is the one process doing the work.
    args: ["-db", "-f", `${dir}/haproxy.cfg`],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  await waitForPort(port);
  return {
    port,
    pid: process.pid,
    async stop() {
      try {
        process.kill("SIGKILL");
      } catch { /* gone */ }
      await process.status;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
