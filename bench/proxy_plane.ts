/**
 * The headline side of `proxy.ts`: `plane proxy` as users run it. `cli/main.ts proxy`
 * runs as a subprocess with exactly the permissions of deno.json's `plane` task
 * (`tests/plane_process.ts` `planePermissions()`), its default flags and log level, behind a
 * fake controller that speaks the proxy socket (`proxy/testing/fake_controller.ts`) and
 * answers the one token with a route carrying a `user` and a `user_data` object, as real
 * connects do. Requests go through `/<token>/…` with the cluster as `Host`, so every one pays
 * for the routing path: token cut, cache hit, Host check, the six identity headers, CORS and
 * `Server` on the answer, keepalive accounting.
 *
 * @module
 */
import { type FakeController, startFakeController } from "../proxy/testing/fake_controller.ts";
import { planePermissions } from "../tests/plane_process.ts";
import { randomToken } from "../shared/tokens.ts";
import type { BackendName } from "../shared/names.ts";
import { freePort } from "../testing/free_port.ts";
import { delay } from "../shared/delay.ts";
import { pathToFileURL } from "node:url";

const MAIN = new URL("../cli/main.ts", import.meta.url).pathname;

/** The identity a route carries in the bench, and that nginx and HAProxy set as well. */
export const BENCH_IDENTITY = {
  user: "bench-user",
  userData: { role: "editor", team: "bench" },
  backendId: "bench-backend",
  secret: "bench-secret-token",
} as const;

export interface PlaneProxy {
  port: number;
  pid: number;
  /** The dynamic token of the one route: requests go to `/<token>/…`. */
  token: string;
  /** The cluster name, to send as `Host`. */
  cluster: string;
  /** The fake controller it is connected to: more routes, `TokenRevoked`, … */
  controller: FakeController;
  stop(): Promise<void>;
}

/**
 * Starts the fake controller and `plane proxy` in front of the backend on `backendPort`;
 * resolves once the proxy logged "Proxy listening" and routes the token (first request 200).
 * `extraArgs` are appended to the proxy's command line (e.g. `--workers 1` once it exists);
 * `main` runs another checkout's `cli/main.ts` (a before/after comparison in one run).
 */
export async function startPlaneProxy(
  backendPort: number,
  extraArgs: readonly string[] = [],
  options: { main?: string } = {},
): Promise<PlaneProxy> {
  const controller = startFakeController();
  const port = freePort();
  const cluster = `plane.bench:${port}`;
  const token = randomToken();
  controller.routes.set(token, {
    "backend_id": BENCH_IDENTITY.backendId as BackendName,
    address: `127.0.0.1:${backendPort}` as never,
    "secret_token": BENCH_IDENTITY.secret,
    cluster,
    user: BENCH_IDENTITY.user,
    "user_data": BENCH_IDENTITY.userData,
    subdomain: null,
  });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-q",
      // Another checkout runs with its own deno.json's flags: a before/after of a flag change.
      ...planePermissions(
        options.main === undefined
          ? undefined
          : new URL("../deno.json", pathToFileURL(options.main)),
      ),
      options.main ?? MAIN,
      "proxy",
      "--controller-url",
      controller.url,
      "--cluster",
      cluster,
      "--http-port",
      String(port),
      "--hostname",
      "127.0.0.1",
      ...extraArgs,
    ],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    // Default log level (info): a handful of lines at start, none per request.
    stderr: "inherit",
  }).spawn();
  const stop = async () => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.status;
    await controller.close();
  };
  try {
    const end = Date.now() + 20_000;
    for (;;) {
      if (controller.open > 0) {
        const status = await probe(port, token, cluster);
        if (status === 200) break;
      }
      if (Date.now() > end) throw new Error("Cannot start plane proxy: no 200 within 20 s");
      await delay(50);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, pid: child.pid, token, cluster, controller, stop };
}

/**
 * One GET through the proxy over a raw connection (`fetch` sends its own `Host`); its status,
 * or 0 when nothing answers yet.
 */
async function probe(port: number, token: string, cluster: string): Promise<number> {
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const request = `GET /${token}/ HTTP/1.1\r\nHost: ${cluster}\r\nConnection: close\r\n\r\n`;
    await conn.write(new TextEncoder().encode(request));
    const buf = new Uint8Array(64);
    const n = await conn.read(buf);
    const line = new TextDecoder().decode(buf.subarray(0, n ?? 0));
    return Number(/^HTTP\/1\.1 (\d{3})/.exec(line)?.[1] ?? 0);
  } catch {
    return 0;
  } finally {
    conn?.close();
  }
}
