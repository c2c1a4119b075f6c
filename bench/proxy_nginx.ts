/**
 * The reference side of `proxy.ts`: finding (or installing) nginx, HAProxy and wrk, and
 * running nginx as a reverse proxy with one worker and upstream keep-alive, on loopback. Like
 * `plane proxy`, it takes requests at `/<token>/…`, strips the token and sets the same six
 * headers (`REFERENCE_HEADERS`), so each does the same work per request.
 *
 * @module
 */
import { BENCH_IDENTITY } from "./proxy_plane.ts";
import { freePort } from "../testing/free_port.ts";
import { delay } from "../shared/delay.ts";
import { out } from "./measure.ts";

/** What nginx and HAProxy route like `plane proxy`: the token and the headers to set. */
export interface ReferenceRoute {
  token: string;
}

/**
 * The six headers `plane proxy` adds to a routed request (besides `x-forwarded-proto`), as
 * name → value; `$path` stands for the request path (token included) and `$peer` for the
 * client address, which each reference spells in its own syntax.
 */
export const REFERENCE_HEADERS: readonly (readonly [string, string])[] = [
  ["x-verified-username", BENCH_IDENTITY.user],
  ["x-verified-user-data", JSON.stringify(BENCH_IDENTITY.userData)],
  ["x-verified-secret", BENCH_IDENTITY.secret],
  ["x-verified-backend", BENCH_IDENTITY.backendId],
  ["x-verified-path", "$path"],
  ["x-forwarded-for", "$peer"],
];

/** nginx's worker: the master's first child. */
function firstChild(pid: number): number {
  try {
    const children = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim();
    return Number(children.split(/\s+/)[0] ?? NaN);
  } catch {
    return NaN;
  }
}

async function which(cmd: string): Promise<boolean> {
  const r = await new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`], stdout: "null" })
    .output();
  return r.success;
}

async function binaryPath(name: string): Promise<string | null> {
  for (const p of [`/usr/sbin/${name}`, `/usr/bin/${name}`]) {
    try {
      await Deno.stat(p);
      return p;
    } catch { /* next */ }
  }
  return (await which(name)) ? name : null;
}

export interface Tools {
  nginx: string | null;
  haproxy: string | null;
  wrk: boolean;
}

/** Finds nginx, HAProxy and wrk, installing the missing ones with apt-get (Debian). */
export async function ensureTools(): Promise<Tools> {
  let nginx = await binaryPath("nginx");
  let haproxy = await binaryPath("haproxy");
  let wrk = await which("wrk");
  if (nginx === null || haproxy === null || !wrk) {
    const missing = [
      nginx === null ? "nginx" : "",
      haproxy === null ? "haproxy" : "",
      wrk ? "" : "wrk",
    ].filter(Boolean);
    out(`installing ${missing.join(" ")} with apt-get…`);
    const install = () =>
      new Deno.Command("apt-get", {
        args: ["install", "-y", "-qq", ...missing],
        stdout: "null",
        stderr: "null",
        env: { DEBIAN_FRONTEND: "noninteractive" },
      }).output().catch(() => ({ success: false }));
    let r = await install();
    if (!r.success) {
      await new Deno.Command("apt-get", { args: ["update", "-qq"], stdout: "null", stderr: "null" })
        .output().catch(() => null);
      r = await install();
    }
    nginx = await binaryPath("nginx");
    haproxy = await binaryPath("haproxy");
    wrk = await which("wrk");
    if (nginx === null) out("nginx could not be installed: measuring without it");
    if (haproxy === null) out("haproxy could not be installed: measuring without it");
    if (!wrk) out("wrk could not be installed: HTTP throughput cannot be measured");
  }
  return { nginx, haproxy, wrk };
}

export interface Nginx {
  port: number;
  workerPid(): number;
  stop(): Promise<void>;
}

/**
 * nginx in front of the backend on `backendPort`: `/` as a plain relay (adding one header, as
 * the engine row does), and `/<token>/…` routed like `plane proxy` (token stripped, the six
 * `REFERENCE_HEADERS` set).
 */
export async function startNginx(
  binary: string,
  backendPort: number,
  route: ReferenceRoute,
): Promise<Nginx> {
  const dir = await Deno.makeTempDir({ prefix: "bench_nginx_" });
  const port = freePort();
  // As many connections as the descriptor limit allows (10,000 proxied WebSockets take two
  // each); nginx's default of 512, or the 8,192 used before, refuses sockets plane proxy takes.
  const nofile = Number(
    /Max open files\s+(\d+)/.exec(await Deno.readTextFile("/proc/self/limits"))?.[1] ?? 8192,
  );
  const conf = `
worker_processes 1;
worker_rlimit_nofile ${nofile};
daemon off;
user root;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections ${nofile}; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
  upstream backend { server 127.0.0.1:${backendPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port} backlog=1024;
    proxy_http_version 1.1;
    proxy_read_timeout 3600s;
    # proxy_set_header is not inherited by a location that sets its own: each lists them all.
    location / {
      proxy_pass http://backend;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header X-Bench 1;
    }
    location /${route.token}/ {
      proxy_pass http://backend/;
      # Like plane proxy, keep the client's Host.
      proxy_set_header Host $http_host;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
${
    REFERENCE_HEADERS.map(([name, value]) =>
      `      proxy_set_header ${name} '${
        value.replace("$path", "$uri").replace("$peer", "$remote_addr")
      }';`
    ).join("\n")
  }
    }
  }
}
`;
  await Deno.writeTextFile(`${dir}/nginx.conf`, conf);
  const process = new Deno.Command(binary, {
    args: ["-p", dir, "-c", `${dir}/nginx.conf`],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  await waitForPort(port);
  return {
    port,
    workerPid: () => firstChild(process.pid),
    async stop() {
      try {
        process.kill("SIGQUIT");
      } catch { /* gone */ }
      const timer = setTimeout(() => {
        try {
          process.kill("SIGKILL");
        } catch { /* gone */ }
      }, 3000);
      await process.status;
      clearTimeout(timer);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

export async function waitForPort(port: number): Promise<void> {
  const end = Date.now() + 5000;
  while (Date.now() < end) {
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
      return;
    } catch {
      await delay(20);
    }
  }
  throw new Error(`Cannot reach 127.0.0.1:${port}: nothing listening after 5 s`);
}
