/**
 * The controller for `deno serve controller/main.ts` and Deno Deploy: configuration from the
 * environment only (`DATABASE_URL`, `PLANE_API_KEYS`, `PLANE_CLUSTER_SECRET`,
 * `PLANE_DEFAULT_CLUSTER`, `PLANE_CONTROLLER_URL`, … see `config_from_env.ts`), Postgres
 * through `npm:pg` only, no filesystem and no subprocess. The controller is built when the
 * server starts listening (or by the first request), never at import time (style.md §7).
 *
 * With no API key, cluster secret or forward auth configured, requests are served only to
 * loopback peers (decisions.md §3.1), because `deno serve` and Deploy choose the
 * listening address, not us. `PLANE_ALLOW_INSECURE=true` lifts that.
 */
import { ControllerConfig, isOpen } from "./config.ts";
import { openAccessRefusal } from "./open_access.ts";
import { configFromEnv, describeConfigError } from "./config_from_env.ts";
import { createPgDatabase } from "./db/mod.ts";
import { type Controller, createController } from "./mod.ts";
import { errorResponse, HttpError } from "./http_error.ts";
import { createLogger } from "../shared/mod.ts";

let starting: Promise<{ controller: Controller; config: ControllerConfig }> | null = null;
/** Where `deno serve` bound us: the default base of `status_url` when none is configured. */
let listening: { hostname: string; port: number } | null = null;

function start(): Promise<{ controller: Controller; config: ControllerConfig }> {
  starting ??= (async () => {
    const parsed = ControllerConfig.safeParse({
      db: "",
      ...(listening ? { host: listening.hostname, port: listening.port } : {}),
      ...configFromEnv((name) => Deno.env.get(name)),
    });
    if (!parsed.success) throw new Error(describeConfigError(parsed.error));
    const config = parsed.data;
    const log = createLogger("controller", { level: config.logLevel });
    if (!/^postgres(ql)?:\/\//.test(config.db)) {
      throw new Error(
        "Cannot start the controller: DATABASE_URL must be a postgres:// URL here " +
          "(embedded PGlite needs `deno task plane controller --db DIR`)",
      );
    }
    if (isOpen(config)) {
      log.warn(
        config.allowInsecure
          ? "No API key, cluster secret or forward auth configured: accepting unauthenticated " +
            "requests from anywhere (PLANE_ALLOW_INSECURE)"
          : "No API key, cluster secret or forward auth configured: accepting unauthenticated " +
            "requests from loopback peers only",
      );
    }
    const db = createPgDatabase({ url: config.db, log: log.child("db") });
    try {
      const controller = await createController({ db, config, log });
      installShutdown(controller);
      return { controller, config };
    } catch (err) {
      await db.close().catch(() => {});
      throw err;
    }
  })();
  // A failed start (database down) is retried by the next request.
  starting.catch(() => {
    starting = null;
  });
  return starting;
}

/** Under `deno serve`, close (controller offline, loops stopped) before exiting on a signal. */
function installShutdown(controller: Controller) {
  if (typeof Deno.addSignalListener !== "function") return;
  const onSignal = () => {
    controller.close().finally(() => Deno.exit(0));
  };
  try {
    Deno.addSignalListener("SIGINT", onSignal);
    Deno.addSignalListener("SIGTERM", onSignal);
  } catch {
    // Platforms without signals (Deno Deploy) stop the isolate themselves.
  }
}

function peerHostname(info: Deno.ServeHandlerInfo): string | null {
  const addr = info.remoteAddr as Deno.Addr;
  if (addr.transport !== "tcp" && addr.transport !== "udp") return null;
  // An IPv4 peer on a dual-stack listener shows up as ::ffff:a.b.c.d.
  return addr.hostname.replace(/^::ffff:/i, "");
}

async function fetch(req: Request, info: Deno.ServeHandlerInfo): Promise<Response> {
  let started;
  try {
    started = await start();
  } catch (err) {
    createLogger("controller").error("Controller could not start", { err });
    return errorResponse(
      new HttpError(503, "Other", "Controller is starting or unavailable"),
      "plane",
      {
        headers: { "retry-after": "1" },
      },
    );
  }
  const { controller, config } = started;
  const refusal = openAccessRefusal(config, peerHostname(info), new URL(req.url).pathname);
  if (refusal !== null) {
    return errorResponse(new HttpError(401, "Unauthorized", refusal), "plane");
  }
  return controller.fetch(req, info);
}

function onListen(addr: Deno.Addr) {
  const log = createLogger("controller");
  if (addr.transport === "tcp") {
    listening = { hostname: addr.hostname, port: addr.port };
    log.info("Listening", { host: addr.hostname, port: addr.port });
  }
  start().catch((err) => log.error("Controller could not start", { err }));
}

export default { fetch, onListen } satisfies Deno.ServeDefaultExport;
