/**
 * `plane controller`: flags and environment → `ControllerConfig` → a served controller
 * (plane-0.5.md §11.1, §2.12). `startController` is the one wiring path, reused by `dev`.
 */
import {
  bindRefusal,
  configFromEnv,
  type Controller,
  CONTROLLER_ENV,
  ControllerConfig,
  type ControllerConfigInput,
  controllerStartingResponse,
  createController,
  describeConfigError,
  type EnvReader,
  isLoopbackHost,
  isOpen,
  keyTimingsForLease,
  MIN_KEY_LEASE_MS,
  toNumber,
} from "../controller/mod.ts";
import { createLogger, type Logger } from "../shared/mod.ts";
import { type ConfigFlag, type FlagsResult, parseFlagsOf } from "./config_flags.ts";
import { openDatabase } from "./open_database.ts";
import { UsageError } from "./usage_error.ts";

export const CONTROLLER_HELP = `Usage: plane controller [flags]

Runs the controller: the HTTP API, drone and proxy sockets, on Postgres or embedded PGlite.

Flags (environment variable in brackets; flags win):
  --db URL|DIR              postgres:// URL, or a directory for embedded PGlite [DATABASE_URL]
  --host HOST               address to bind (default 127.0.0.1) [PLANE_HOST]
  --port N                  port to bind, 0 for any (default 8080) [PLANE_PORT]
  --controller-url URL      base of status_url (default http://HOST:PORT) [PLANE_CONTROLLER_URL]
  --default-cluster NAME    cluster for spawn configs that name none [PLANE_DEFAULT_CLUSTER]
  --cleanup-min-age-days N  delete terminated backends and events older than N days
                            [PLANE_CLEANUP_MIN_AGE_DAYS]
  --forward-auth URL        ask URL about every /ctrl/* request [PLANE_FORWARD_AUTH]
  --best-of N               drones sampled per spawn (default 2) [PLANE_BEST_OF]
  --api-key KEY             accepted bearer key, repeatable (>= 16 chars)
                            [PLANE_API_KEYS, comma-separated]
  --cluster-secret SECRET   secret drones and proxies present; their sockets take
                            no API key [PLANE_CLUSTER_SECRET]
  --allow-insecure          allow a non-loopback --host without any credential
                            [PLANE_ALLOW_INSECURE]
  --allow-path-routing      accept proxies started with --path-routing, which reach a
                            backend by its id alone (local development only)
                            [PLANE_ALLOW_PATH_ROUTING]
  --metrics-public          serve GET /metrics (Prometheus) without the API key
                            [PLANE_METRICS_PUBLIC]
  --log-level LEVEL         debug, info, warn or error (default info) [PLANE_LOG_LEVEL]
  --services FILE           Jamsocket service map: JSON object of
                            "account/service[/environment]" -> {"image": ...}
                            [PLANE_SERVICES, the JSON itself]
  --max-backends N          Jamsocket connects answer 429 beyond N live backends
                            [PLANE_MAX_BACKENDS]
  --allow-backend-env NAME  let connects set this refused env name (e.g. PYTHONPATH),
                            repeatable; never SESSION_BACKEND_* or PLANE_*
                            [PLANE_ALLOW_BACKEND_ENV, comma-separated]
  --key-lease-ms N          key lease (default 60000): drones renew at 1/2, soft- and
                            hard-terminate unrenewed backends at 2/3 and 5/6 of it; a gone
                            drone's backends are marked lost after lease + 5 s; >= 15000
                            [PLANE_KEY_LEASE_MS]
  -h, --help                show this help

The port is bound first; until the controller is ready (migrations run, state loaded) every
request is answered 503 {"kind": "Other"} with Retry-After: 1.

With no API key, cluster secret or forward auth the controller accepts unauthenticated
requests and therefore binds loopback only. With API keys but no cluster secret, drone and
proxy sockets are refused.

A connect may not set executable.env names that a runtime, the loader or a shell reads as
code (NODE_OPTIONS, NODE_PATH, LD_*, PATH, DENO_*, PYTHON*, ...; case folded) nor the
reserved SESSION_BACKEND_* and PLANE_*: it answers 400 naming the variable.
`;

/**
 * Every `plane controller` flag: drives the parser below and is the README's configuration
 * reference (`deno task docs:config`). Environment names come from `CONTROLLER_ENV`, defaults
 * from `ControllerConfig`.
 */
export const CONTROLLER_FLAGS = [
  {
    flag: "--db",
    value: "URL|DIR",
    field: "db",
    env: CONTROLLER_ENV.db,
    meaning: "`postgres://` URL, or a directory for embedded PGlite (created if missing)",
  },
  {
    flag: "--host",
    value: "HOST",
    field: "host",
    env: CONTROLLER_ENV.host,
    meaning: "address to bind",
  },
  {
    flag: "--port",
    value: "N",
    field: "port",
    env: CONTROLLER_ENV.port,
    meaning: "port to bind (`0`: any free port)",
  },
  {
    flag: "--controller-url",
    value: "URL",
    field: "controllerUrl",
    env: CONTROLLER_ENV.controllerUrl,
    unset: "`http://HOST:PORT`",
    meaning: "base of `status_url` in connect answers",
  },
  {
    flag: "--default-cluster",
    value: "NAME",
    field: "defaultCluster",
    env: CONTROLLER_ENV.defaultCluster,
    meaning: "cluster for spawn configs that name none",
  },
  {
    flag: "--cleanup-min-age-days",
    value: "N",
    field: "cleanupMinAgeDays",
    env: CONTROLLER_ENV.cleanupMinAgeDays,
    unset: "off",
    meaning: "delete terminated backends and events older than N days",
  },
  {
    flag: "--forward-auth",
    value: "URL",
    field: "forwardAuth",
    env: CONTROLLER_ENV.forwardAuth,
    unset: "off",
    meaning: "ask URL about every `/ctrl/*` request (Plane's forward auth)",
  },
  {
    flag: "--best-of",
    value: "N",
    field: "bestOf",
    env: CONTROLLER_ENV.bestOf,
    meaning: "drones sampled per spawn",
  },
  {
    flag: "--api-key",
    value: "KEY",
    repeatable: true,
    field: "apiKeys",
    env: CONTROLLER_ENV.apiKeys,
    envNote: "comma-separated",
    meaning: "bearer keys accepted on `/ctrl/*`, at least 16 characters",
  },
  {
    flag: "--cluster-secret",
    value: "SECRET",
    field: "clusterSecret",
    env: CONTROLLER_ENV.clusterSecret,
    meaning: "secret drones and proxies present, at least 16 characters",
  },
  {
    flag: "--allow-insecure",
    field: "allowInsecure",
    env: CONTROLLER_ENV.allowInsecure,
    meaning: "allow a non-loopback host without any credential",
  },
  {
    flag: "--allow-path-routing",
    field: "allowPathRouting",
    env: CONTROLLER_ENV.allowPathRouting,
    meaning: "accept proxies started with `--path-routing` (local development only)",
  },
  {
    flag: "--metrics-public",
    field: "metricsPublic",
    env: CONTROLLER_ENV.metricsPublic,
    meaning: "serve `GET /metrics` (Prometheus text) without the API key; it is behind the " +
      "key otherwise, like `/ctrl/*`",
  },
  {
    flag: "--log-level",
    value: "LEVEL",
    field: "logLevel",
    env: CONTROLLER_ENV.logLevel,
    meaning: "log lines (JSON on stderr) from this level up",
  },
  {
    flag: "--services",
    value: "FILE",
    field: "services",
    env: CONTROLLER_ENV.services,
    envNote: "the JSON itself",
    meaning: 'Jamsocket service map, a JSON file (see "Developing a Jamsocket app locally")',
  },
  {
    flag: "--max-backends",
    value: "N",
    field: "maxBackends",
    env: CONTROLLER_ENV.maxBackends,
    unset: "no limit",
    meaning: "Jamsocket connects and spawns answer 429 beyond N live backends",
  },
  {
    flag: "--allow-backend-env",
    value: "NAME",
    repeatable: true,
    field: "allowBackendEnv",
    env: CONTROLLER_ENV.allowBackendEnv,
    envNote: "comma-separated",
    meaning: "let connects set this refused `executable.env` name (e.g. `PYTHONPATH`); " +
      "never `SESSION_BACKEND_*` or `PLANE_*`",
  },
  {
    flag: "--key-lease-ms",
    value: "N",
    field: "keyLeaseMs",
    env: CONTROLLER_ENV.keyLeaseMs,
    meaning: "key lease in ms, at least 15000: drones renew keys at 1/2 of it and soft- and " +
      "hard-terminate unrenewed backends at 2/3 and 5/6; a gone drone's backends are marked " +
      "`lost` at most lease + 5 s after its last contact",
  },
] as const satisfies readonly ConfigFlag<keyof ControllerConfigInput>[];

/** Config field → flag, for error messages. */
const FLAG_OF: Record<string, string> = Object.fromEntries(
  CONTROLLER_FLAGS.map((row) => [row.field, row.flag]),
);

/**
 * Parses `plane controller` arguments over the environment; throws `UsageError` with one line
 * (the schema's message for a bad value, or the start-up rule for an open, exposed host).
 */
export function parseControllerFlags(
  args: string[],
  env: EnvReader,
  readFile: (path: string) => string = Deno.readTextFileSync,
): FlagsResult<ControllerConfig> {
  const values = parseFlagsOf(args, CONTROLLER_FLAGS, "controller");
  if (values.help) return { kind: "help" };

  const input: Record<string, unknown> = { db: "", ...configFromEnv(env) };
  const strings = {
    db: values.db,
    host: values.host,
    controllerUrl: values["controller-url"],
    defaultCluster: values["default-cluster"],
    forwardAuth: values["forward-auth"],
    clusterSecret: values["cluster-secret"],
    logLevel: values["log-level"],
  };
  for (const [key, value] of Object.entries(strings)) if (value !== undefined) input[key] = value;
  const numbers = {
    port: values.port,
    cleanupMinAgeDays: values["cleanup-min-age-days"],
    bestOf: values["best-of"],
    maxBackends: values["max-backends"],
  };
  for (const [key, value] of Object.entries(numbers)) {
    if (value !== undefined) input[key] = toNumber(value);
  }
  const lease = values["key-lease-ms"];
  if (lease !== undefined) Object.assign(input, keyTimingsForLease(toNumber(lease)));
  if (typeof input.keyLeaseMs === "number" && input.keyLeaseMs < MIN_KEY_LEASE_MS) {
    throw new UsageError(
      `Invalid --key-lease-ms (${CONTROLLER_ENV.keyLeaseMs}): must be at least ` +
        `${MIN_KEY_LEASE_MS}, or backends are killed as keyexpired as they start`,
    );
  }
  if (values["api-key"] !== undefined) input.apiKeys = values["api-key"];
  if (values["allow-backend-env"] !== undefined) {
    input.allowBackendEnv = values["allow-backend-env"];
  }
  if (values["allow-insecure"]) input.allowInsecure = true;
  if (values["allow-path-routing"]) input.allowPathRouting = true;
  if (values["metrics-public"]) input.metricsPublic = true;
  if (values.services !== undefined) input.services = readServices(values.services, readFile);

  const parsed = ControllerConfig.safeParse(input);
  if (!parsed.success) {
    throw new UsageError(describeConfigError(parsed.error, (field) => FLAG_OF[field] ?? field));
  }
  const config = parsed.data;
  const refusal = bindRefusal(config);
  if (refusal !== null) throw new UsageError(refusal);
  return { kind: "run", config };
}

/** The JSON of a `--services FILE`; a missing file or bad JSON is a usage error. */
function readServices(path: string, readFile: (path: string) => string): unknown {
  let text: string;
  try {
    text = readFile(path);
  } catch (err) {
    throw new UsageError(`Cannot read --services file "${path}": ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`Invalid --services file "${path}": ${(err as Error).message}`);
  }
}

export interface RunningController extends AsyncDisposable {
  controller: Controller;
  /** `http://host:port` of the listener (the bound port when `port` was 0). */
  url: string;
  addr: Deno.NetAddr;
  /**
   * Closes the controller, then the HTTP server (at most 2 s, plane-0.5.md §2.12), then the
   * database.
   */
  close(): Promise<void>;
}

export interface StartControllerOptions {
  log?: Logger;
}

/** Time the HTTP server may take to finish in-flight requests on shutdown (plane-0.5.md §2.12). */
const SHUTDOWN_LIMIT_MS = 2_000;

/** Opens the database, builds the controller and serves it until `close()`. */
export async function startController(
  config: ControllerConfig,
  options: StartControllerOptions = {},
): Promise<RunningController> {
  const log = options.log ?? createLogger("controller", { level: config.logLevel });
  if (isOpen(config)) {
    log.warn(
      isLoopbackHost(config.host)
        ? "No API key, cluster secret or forward auth configured: accepting unauthenticated " +
          "requests (loopback only)"
        : `No API key, cluster secret or forward auth configured: accepting unauthenticated ` +
          `requests on ${config.host} (--allow-insecure)`,
    );
  }
  const db = await openDatabase(config.db, { log: log.child("db") });
  let controller: Controller | null = null;
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve(
      { hostname: config.host, port: config.port, onListen() {} },
      // Bound before the controller exists (a taken port fails fast): until it does, requests
      // get the documented 503 rather than a crash (issue 11, finding 6).
      (req, info) =>
        controller === null ? controllerStartingResponse() : controller.fetch(req, info),
    );
  } catch (err) {
    await db.close().catch(() => {});
    throw new Error(
      `Cannot listen on ${config.host}:${config.port}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const addr = server.addr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  const url = `http://${host}:${addr.port}`;
  try {
    controller = await createController({
      db,
      log,
      // With --port 0 the default status_url must carry the port actually bound.
      config: { ...config, controllerUrl: config.controllerUrl ?? url },
    });
  } catch (err) {
    await server.shutdown();
    await db.close().catch(() => {});
    throw err;
  }
  log.info("Controller listening", { url, controller: controller.name });

  let closing: Promise<void> | null = null;
  const running: RunningController = {
    controller,
    url,
    addr,
    close() {
      closing ??= (async () => {
        await controller!.close();
        let timer: ReturnType<typeof setTimeout> | undefined;
        const limit = new Promise<"timeout">((resolve) => {
          timer = setTimeout(() => resolve("timeout"), SHUTDOWN_LIMIT_MS);
        });
        const outcome = await Promise.race([server.shutdown().then(() => "done" as const), limit]);
        clearTimeout(timer);
        if (outcome === "timeout") {
          log.warn("HTTP server did not finish within the shutdown limit", {
            limitMs: SHUTDOWN_LIMIT_MS,
          });
        }
        await db.close().catch((err) => log.warn("Could not close the database", { err }));
      })();
      return closing;
    },
    [Symbol.asyncDispose]: () => running.close(),
  };
  return running;
}

/** Serves the controller until `signal` aborts, then shuts down (plane-0.5.md §2.12). */
export async function runController(
  config: ControllerConfig,
  options: StartControllerOptions & { signal: AbortSignal },
): Promise<void> {
  const running = await startController(config, options);
  await new Promise<void>((resolve) => {
    if (options.signal.aborted) return resolve();
    options.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  await running.close();
}
