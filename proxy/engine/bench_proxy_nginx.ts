/**
 * The reference side of `bench_proxy.ts`: finding (or installing) nginx and wrk, and running
 * nginx as a reverse proxy with one worker and upstream keep-alive, on loopback.
 *
 * @module
 */

function out(line: string): void {
  const bytes = new TextEncoder().encode(line + "\n");
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}

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

export async function ensureTools(): Promise<{ nginx: string | null; wrk: boolean }> {
  const nginxPath = async () => {
    for (const p of ["/usr/sbin/nginx", "/usr/bin/nginx"]) {
      try {
        await Deno.stat(p);
        return p;
      } catch { /* next */ }
    }
    return (await which("nginx")) ? "nginx" : null;
  };
  let nginx = await nginxPath();
  let wrk = await which("wrk");
  if (nginx === null || !wrk) {
    const missing = [nginx === null ? "nginx" : "", wrk ? "" : "wrk"].filter(Boolean);
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
    nginx = await nginxPath();
    wrk = await which("wrk");
    if (nginx === null) out("nginx could not be installed: measuring without it");
    if (!wrk) out("wrk could not be installed: HTTP throughput cannot be measured");
  }
  return { nginx, wrk };
}

export interface Nginx {
  port: number;
  workerPid(): number;
  stop(): Promise<void>;
}

export async function startNginx(binary: string, backendPort: number): Promise<Nginx> {
  const dir = await Deno.makeTempDir({ prefix: "bench_nginx_" });
  const port = freePort();
  const conf = `
worker_processes 1;
daemon off;
user root;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
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
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header X-Bench 1;
      proxy_read_timeout 3600s;
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

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function waitForPort(port: number): Promise<void> {
  const end = Date.now() + 5000;
  while (Date.now() < end) {
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  throw new Error(`Cannot reach 127.0.0.1:${port}: nothing listening after 5 s`);
}
