/**
 * `plane proxy`: flags and environment → `ProxyConfig` → listeners serving the proxy
 * (plane-0.5.md §7.1, §11.1). `startProxy` is the one wiring path.
 */
import {
  type CertManager,
  ConnectionCap,
  createAcmeOrderer,
  createProxy,
  defaultMaxConnections,
  parseSoftDescriptorLimit,
  type Proxy,
  ProxyConfig,
  type ProxyConfigInput,
  proxyFamilies,
  type ProxyServer,
  type ProxyWorkers,
  ReusePortUnavailableError,
  serveProxy,
  startCertManager,
  startProxyWorkers,
  takeSnapshot,
} from "../proxy/mod.ts";
import {
  createLogger,
  type Logger,
  randomProxyName,
  renderMetrics,
  startProcessSampler,
} from "../shared/mod.ts";
import { type MetricsServer, PROCESS_READERS, serveMetrics } from "./metrics_server.ts";
import {
  type ConfigFlag,
  describeFlagError,
  type FlagsResult,
  parseFlagsOf,
  wholeNumberFlag,
} from "./config_flags.ts";
import { metricsFlags, socketRoleFlags, socketRoleInput } from "./socket_role_flags.ts";
import { UsageError } from "./usage_error.ts";

export const PROXY_HELP = `Usage: plane proxy --controller-url URL --cluster NAME [flags]

Runs a proxy: the public HTTP(S) entry point that routes connection URLs to backends.

Flags (environment variable in brackets; flags win):
  --controller-url URL       controller to dial; a secret may ride as the URL's username
                             [PLANE_CONTROLLER_URL]
  --cluster NAME             cluster this proxy serves, host[:port] [PLANE_CLUSTER]
  --name NAME                proxy name, px-... (default random)
  --secret SECRET            cluster secret for the proxy socket [PLANE_CLUSTER_SECRET]
  --http-port N              HTTP port (default 9090; 80, redirect only, with HTTPS)
  --https                    serve HTTPS on 443 (needs --cert-path)
  --https-port N             serve HTTPS on N (needs --cert-path)
  --cert-path FILE           certificate JSON {"cert": PEM, "key": PEM}, reloaded on change
  --acme-endpoint URL        obtain and renew the certificate for CLUSTER and *.CLUSTER from
                             this ACME directory (DNS-01 through plane dns; turns HTTPS on)
  --acme-email EMAIL         ACME account contact (with --acme-endpoint)
  --acme-eab-kid ID          external account binding key id
  --acme-eab-hmac-key KEY    external account binding HMAC key (base64url)
  --acme-ca-file FILE        trust these PEM CAs for the ACME server's TLS (test CAs)
  --root-redirect-url URL    answer GET / with a 301 to URL (default: 400)
  --route-wait-seconds N     longest wait for a starting backend before 504 (default 300)
  --body-timeout-seconds N   close a request whose body sends no byte for N s (inactivity,
                             not total upload time; 408 if unanswered; default 30)
  --hostname HOST            listen address (default 0.0.0.0)
  --path-routing             route /_plane_backend=<BACKEND_ID>/... by backend id instead of
                             tokens (Jamsocket local development; loopback only; the
                             controller must run with --allow-path-routing)
  --force-path-routing       allow --path-routing on a non-loopback --hostname
  --workers N                engines serving the port, each on its own thread (default: one
                             per CPU core; 1: a single thread, no workers)
  --max-connections N        open client connections allowed; more get a 503 (default: half
                             the descriptor limit, less a reserve: two per connection)
  --metrics-port N           serve GET /metrics (Prometheus) on port N (default: off)
  --metrics-hostname HOST    metrics listen address (default 127.0.0.1)
  --log-level LEVEL          debug, info, warn or error (default info) [PLANE_LOG_LEVEL]
  -h, --help                 show this help
`;

const SHARED = socketRoleFlags({ noun: "proxy", namePrefix: "px" });
const METRICS = metricsFlags(
  "serve `GET /metrics` (Prometheus text, all workers added up) on port N; never the public port",
);

/**
 * Every `plane proxy` flag: drives the parser below and is the README's configuration reference
 * (`deno task docs:config`). Defaults come from `ProxyConfig`.
 */
export const PROXY_FLAGS = [
  SHARED.controllerUrl,
  SHARED.cluster,
  SHARED.name,
  SHARED.secret,
  {
    flag: "--http-port",
    value: "N",
    field: "httpPort",
    meaning: "HTTP port; with HTTPS on, it only redirects to HTTPS",
  },
  { flag: "--https", field: "https", meaning: "serve HTTPS (needs `--cert-path`)" },
  {
    flag: "--https-port",
    value: "N",
    field: "httpsPort",
    meaning: "HTTPS port; implies `--https`",
  },
  {
    flag: "--cert-path",
    value: "FILE",
    field: "certPath",
    meaning: 'certificate JSON `{"cert": PEM, "key": PEM}`, reloaded on change',
  },
  {
    flag: "--acme-endpoint",
    value: "URL",
    field: "acmeEndpoint",
    unset: "no ACME",
    meaning: "ACME directory to obtain and renew the certificate for `CLUSTER` and " +
      "`*.CLUSTER` from (DNS-01 through `plane dns`); turns HTTPS on, needs `--cert-path`",
  },
  {
    flag: "--acme-email",
    value: "EMAIL",
    field: "acmeEmail",
    meaning: "ACME account contact (with `--acme-endpoint`)",
  },
  {
    flag: "--acme-eab-kid",
    value: "ID",
    field: "acmeEabKid",
    meaning: "external account binding key id (with `--acme-eab-hmac-key`)",
  },
  {
    flag: "--acme-eab-hmac-key",
    value: "KEY",
    field: "acmeEabHmacKey",
    meaning: "external account binding HMAC key, base64url without padding",
  },
  {
    flag: "--acme-ca-file",
    value: "FILE",
    field: "acmeCaFile",
    unset: "system roots",
    meaning: "PEM CA certificates trusted for the ACME server's own TLS (a test CA such as " +
      "Pebble's)",
  },
  {
    flag: "--root-redirect-url",
    value: "URL",
    field: "rootRedirectUrl",
    unset: "`GET /` is 400",
    meaning: "answer `GET /` with a 301 to URL",
  },
  {
    flag: "--route-wait-seconds",
    value: "N",
    field: "routeWaitSeconds",
    meaning: "longest wait for a starting backend before 504",
  },
  {
    flag: "--body-timeout-seconds",
    value: "N",
    field: "bodyTimeoutSeconds",
    meaning: "close a request (408 if unanswered) whose body sends no byte for N seconds; " +
      "inactivity, not total upload time",
  },
  { flag: "--hostname", value: "HOST", field: "hostname", meaning: "listen address" },
  {
    flag: "--path-routing",
    field: "pathRouting",
    meaning: "route `/_plane_backend=<BACKEND_ID>/...` by backend id instead of tokens " +
      "(Jamsocket local development; loopback only)",
  },
  {
    flag: "--force-path-routing",
    field: "forcePathRouting",
    meaning: "allow `--path-routing` on a non-loopback `--hostname`",
  },
  {
    flag: "--workers",
    value: "N",
    field: "workers",
    unset: "one per CPU core",
    meaning: "engines serving the port, each on its own thread with its own listener " +
      "(`SO_REUSEPORT`); 1 runs a single thread with no workers",
  },
  {
    flag: "--max-connections",
    value: "N",
    field: "maxConnections",
    unset: "(soft descriptor limit − 64) / 2",
    meaning: "open client connections allowed across all workers; past it a client gets a 503 " +
      "and refusals are logged (each connection holds two descriptors, client and backend)",
  },
  ...METRICS,
  SHARED.logLevel,
] as const satisfies readonly ConfigFlag<keyof ProxyConfigInput>[];

function seconds(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new UsageError(`Invalid --${flag}: expected a positive number, got "${raw}"`);
  }
  return value;
}

/** A whole number of at least 1 (a count of workers or connections), or undefined when absent. */
function countFlag(flag: string, raw: string | undefined): number | undefined {
  const value = wholeNumberFlag(flag, raw);
  if (value === 0) throw new UsageError(`Invalid --${flag}: expected at least 1, got 0`);
  return value;
}

/** Parses `plane proxy` arguments over the environment; throws `UsageError` with one line. */
export function parseProxyFlags(
  args: string[],
  env: (name: string) => string | undefined,
): FlagsResult<ProxyConfig> {
  const values = parseFlagsOf(args, PROXY_FLAGS, "proxy");
  if (values.help) return { kind: "help" };
  const input = socketRoleInput(PROXY_FLAGS, { values, env });
  const set = (key: string, value: unknown) => value !== undefined && (input[key] = value);
  set("httpPort", wholeNumberFlag("http-port", values["http-port"]));
  set("httpsPort", wholeNumberFlag("https-port", values["https-port"]));
  if (values.https) input.https = true;
  set("certPath", values["cert-path"]);
  set("acmeEndpoint", values["acme-endpoint"]);
  set("acmeEmail", values["acme-email"]);
  set("acmeEabKid", values["acme-eab-kid"]);
  set("acmeEabHmacKey", values["acme-eab-hmac-key"]);
  set("acmeCaFile", values["acme-ca-file"]);
  set("rootRedirectUrl", values["root-redirect-url"]);
  set("hostname", values.hostname);
  if (values["path-routing"]) input.pathRouting = true;
  if (values["force-path-routing"]) input.forcePathRouting = true;
  set("routeWaitSeconds", seconds("route-wait-seconds", values["route-wait-seconds"]));
  set("bodyTimeoutSeconds", seconds("body-timeout-seconds", values["body-timeout-seconds"]));
  set("workers", countFlag("workers", values.workers));
  set("maxConnections", countFlag("max-connections", values["max-connections"]));
  set("metricsPort", wholeNumberFlag("metrics-port", values["metrics-port"]));
  set("metricsHostname", values["metrics-hostname"]);
  const parsed = ProxyConfig.safeParse(input);
  if (!parsed.success) throw new UsageError(describeFlagError(parsed.error, PROXY_FLAGS, input));
  return { kind: "run", config: parsed.data };
}

export interface RunningProxy {
  /** The proxy, when it runs in this thread (`--workers 1`). */
  proxy: Proxy | undefined;
  /** The worker pool, with more than one worker. */
  workers: ProxyWorkers | undefined;
  /** Bound ports (useful with port 0). */
  server: { httpPort: number; httpsPort: number | undefined };
  /** True while connected to a controller. */
  ready(): boolean;
  /** The Prometheus text of this proxy (every worker added up). */
  metrics(): Promise<string>;
  /** The `--metrics-port` listener, when configured. */
  metricsServer: MetricsServer | undefined;
  /** Resolves once stopped. */
  done: Promise<void>;
  /**
   * Stops accepting, lets in-flight requests finish for up to 10 s (plane-0.5.md §7.1), then
   * closes.
   */
  stop(): Promise<void>;
}

/**
 * The default connection cap from this process's soft descriptor limit, read through
 * `sh -c 'ulimit -Sn'` (a child inherits the limit; Deno refuses `/proc/self/*` without
 * `--allow-all`, and `--allow-run` is in deno.json's permissions); undefined (no cap) where it
 * cannot be read or is unlimited, which is logged.
 */
async function descriptorCap(log: Logger): Promise<number | undefined> {
  try {
    const output = await new Deno.Command("sh", {
      args: ["-c", "ulimit -Sn"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    const soft = parseSoftDescriptorLimit(new TextDecoder().decode(output.stdout));
    if (soft !== null) return defaultMaxConnections(soft);
    log.warn("No descriptor limit to size the connection cap from; serving without one", {
      ulimit: new TextDecoder().decode(output.stdout).trim(),
    });
  } catch (err) {
    log.warn("Cannot read the descriptor limit; serving without a connection cap", { err });
  }
  return undefined;
}

/** Builds the proxy for `config` and binds its listeners (in workers when `config.workers` > 1). */
export async function startProxy(
  config: ProxyConfig,
  options: { log?: Logger; shutdownMs?: number } = {},
): Promise<RunningProxy> {
  const log = options.log ?? createLogger("proxy", { level: config.logLevel });
  const shutdownMs = options.shutdownMs ?? 10_000;
  const https = config.https && config.certPath !== undefined && config.httpsPort !== undefined
    ? { port: config.httpsPort, certPath: config.certPath }
    : undefined;
  const limits = { bodyTimeoutMs: config.bodyTimeoutSeconds * 1000 };
  const maxConnections = config.maxConnections ?? await descriptorCap(log);
  let certManager: CertManager | undefined;
  if (config.acme !== undefined && config.certPath !== undefined) {
    const { caFile, ...settings } = config.acme;
    const caCerts = caFile === undefined ? undefined : await Deno.readTextFile(caFile);
    certManager = startCertManager({
      cluster: config.cluster,
      certPath: config.certPath,
      orderer: createAcmeOrderer({ ...settings, caCerts }, { log: log.child("acme") }),
      log: log.child("certs"),
    });
  }
  let proxy: Proxy | undefined;
  let workers: ProxyWorkers | undefined;
  let server: {
    httpPort: number;
    httpsPort: number | undefined;
    close(o: { graceMs: number }): Promise<void>;
  };
  let singleServer: ProxyServer | undefined;
  let workerCount = config.workers ?? Math.max(1, navigator.hardwareConcurrency);
  if (workerCount > 1) {
    try {
      workers = await startProxyWorkers({
        workers: workerCount,
        name: config.name ?? randomProxyName(),
        cluster: config.cluster,
        controllerUrl: config.controllerUrl,
        secret: config.secret,
        rootRedirectUrl: config.rootRedirectUrl,
        pathRouting: config.pathRouting,
        routeWaitMs: config.routeWaitSeconds * 1000,
        hostname: config.hostname,
        httpPort: config.httpPort,
        https,
        limits,
        maxConnections,
        logLevel: config.logLevel,
        certClient: certManager,
        log,
      });
    } catch (err) {
      // One per core is only a default: without reusePort, serve on one thread as before.
      if (!(err instanceof ReusePortUnavailableError) || config.workers !== undefined) {
        await certManager?.close();
        throw err;
      }
      log.warn("Serving on one thread: pass --unstable-net to Deno for a worker per core", {
        cores: workerCount,
      });
      workerCount = 1;
    }
  }
  if (workers !== undefined) {
    server = workers;
  } else {
    const single = createProxy({
      cluster: config.cluster,
      controllerUrl: config.controllerUrl,
      name: config.name,
      secret: config.secret,
      rootRedirectUrl: config.rootRedirectUrl,
      pathRouting: config.pathRouting,
      routeWaitMs: config.routeWaitSeconds * 1000,
      certClient: certManager,
      log,
    });
    try {
      server = await serveProxy(single, {
        hostname: config.hostname,
        httpPort: config.httpPort,
        https,
        limits,
        connectionCap: maxConnections === undefined ? undefined : new ConnectionCap(maxConnections),
        log,
      });
    } catch (err) {
      await single.close();
      await certManager?.close();
      throw err;
    }
    proxy = single;
    singleServer = server as ProxyServer;
  }
  if (config.pathRouting) {
    log.warn(
      "Path routing is ON: /_plane_backend=<BACKEND_ID>/ reaches any backend of the cluster " +
        "without a token (local development only); the controller must allow it " +
        "(--allow-path-routing)",
      { hostname: config.hostname },
    );
  }
  log.info("Proxy listening", {
    name: proxy?.name ?? workers?.name,
    cluster: config.cluster,
    http: server.httpPort,
    https: server.httpsPort,
    workers: workerCount,
    maxConnections: maxConnections ?? null,
  });
  const ready = () => proxy?.ready() ?? workers?.ready() ?? false;
  const sampler = startProcessSampler(PROCESS_READERS);
  async function metrics(): Promise<string> {
    const snapshots = workers !== undefined
      ? await workers.snapshots()
      : [takeSnapshot(singleServer!.stats, proxy!.routes.counters)];
    return renderMetrics([
      ...proxyFamilies(snapshots, { connected: ready() }),
      ...sampler.families(snapshots.map((s) => s?.heap)),
    ]);
  }
  let metricsServer: MetricsServer | undefined;
  if (config.metricsPort !== undefined) {
    try {
      metricsServer = serveMetrics(
        { hostname: config.metricsHostname, port: config.metricsPort },
        metrics,
        log,
      );
    } catch (err) {
      sampler.stop();
      await server.close({ graceMs: 0 });
      await proxy?.close();
      throw err;
    }
  }
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  let stopping: Promise<void> | null = null;
  return {
    proxy,
    workers,
    server: { httpPort: server.httpPort, httpsPort: server.httpsPort },
    ready,
    metrics,
    metricsServer,
    done,
    stop() {
      stopping ??= (async () => {
        log.info("Proxy shutting down");
        sampler.stop();
        await metricsServer?.close();
        await server.close({ graceMs: shutdownMs });
        await certManager?.close();
        await proxy?.close();
        resolveDone();
      })();
      return stopping;
    },
  };
}
