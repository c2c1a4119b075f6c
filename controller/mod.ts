/**
 * @module
 * The Plane-compatible controller as a fetch handler (style.md §6, §7): construct it with its
 * dependencies and serve `fetch` with `Deno.serve`, `deno serve` or Deno Deploy. It runs the
 * migrations, keeps its liveness row, fans database events out to its sockets, and runs the
 * cleanup and sweep loops until `close()`.
 */
import {
  type Database,
  detachNodes,
  heartbeatController,
  markControllerOffline,
  runMigrations,
} from "./db/mod.ts";
import { ControllerConfig, type ControllerConfigInput } from "./config.ts";
import {
  type ControllerName,
  type Logger,
  PLANE_HASH,
  PLANE_VERSION,
  randomControllerName,
} from "../shared/mod.ts";
import { createEventBus } from "./event_bus.ts";
import { Sessions } from "./sessions.ts";
import { LogsHub } from "./logs_hub.ts";
import { MetricsHub } from "./jamsocket/metrics.ts";
import { UsageHistory } from "./usage_history.ts";
import type { ControllerContext } from "./context.ts";
import { createApp } from "./app.ts";
import type { RequestInfo } from "./router.ts";
import { every } from "./loop.ts";
import { cleanupOnce } from "./cleanup.ts";
import { sweepLostBackends } from "./sweeper.ts";
import { InFlightPlacements } from "./in_flight_placements.ts";
import { ControllerMetrics } from "./metrics.ts";

export interface ControllerDeps {
  db: Database;
  /** Parsed config, or input the schema fills with defaults. */
  config: ControllerConfig | ControllerConfigInput;
  log: Logger;
}

export interface Controller {
  readonly name: ControllerName;
  /** Serves one request; `info` carries the peer address (Deno.serve's second argument). */
  fetch(req: Request, info?: RequestInfo | Deno.ServeHandlerInfo): Promise<Response>;
  close(): Promise<void>;
}

function remoteIpOf(info: RequestInfo | Deno.ServeHandlerInfo | undefined): RequestInfo {
  if (!info) return { remoteIp: "0.0.0.0" };
  if ("remoteIp" in info) return info;
  const addr = info.remoteAddr as Deno.Addr;
  return {
    remoteIp: addr.transport === "tcp" || addr.transport === "udp" ? addr.hostname : "0.0.0.0",
  };
}

export async function createController(deps: ControllerDeps): Promise<Controller> {
  const config = Object.freeze(ControllerConfig.parse(deps.config));
  const log = deps.log;
  const name = config.name ?? randomControllerName();
  const { db } = deps;

  const migrations = await runMigrations(db);
  if (migrations.applied.length > 0) {
    log.info("Applied migrations", { applied: migrations.applied });
  }
  // Startup fails if the first heartbeat fails (plane-0.5.md §2.12).
  await heartbeatController(db, name, PLANE_VERSION, PLANE_HASH);
  // A restart under the same name holds no socket yet: nothing may look attached to it.
  await detachNodes(db, name);
  const bus = await createEventBus(db, log.child("events"));

  const abort = new AbortController();
  const sessions = new Sessions();
  const logs = new LogsHub({ db, sessions, log: log.child("logs") });
  await logs.start();
  const ctx: ControllerContext = {
    db,
    config,
    log,
    name,
    bus,
    controllerUrl: (config.controllerUrl ?? `http://${config.host}:${config.port}`).replace(
      /\/$/,
      "",
    ),
    sessions,
    logs,
    metrics: new MetricsHub(db, log.child("jamsocket.metrics")),
    usage: new UsageHistory(),
    placements: new InFlightPlacements(),
    prometheus: new ControllerMetrics(),
    signal: abort.signal,
  };
  const loopOptions = { signal: abort.signal, log };
  const loops = [
    every(
      config.heartbeatIntervalMs,
      () => heartbeatController(db, name, PLANE_VERSION, PLANE_HASH),
      {
        ...loopOptions,
        name: "Controller heartbeat",
      },
    ),
    // A random first delay spreads many controllers' cleanups apart (plane-0.5.md §8.11).
    every(config.cleanupIntervalMs, () => cleanupOnce(ctx), {
      ...loopOptions,
      name: "Cleanup",
      initialDelayMs: Math.floor(Math.random() * config.cleanupIntervalMs),
    }),
    every(config.sweepIntervalMs, () => sweepLostBackends(ctx), {
      ...loopOptions,
      name: "Lost backend sweep",
    }),
  ];
  const app = createApp(ctx);
  log.info("Controller started", { name });
  if (config.apiKeys.length > 0 && config.clusterSecret === undefined) {
    // Sockets take the cluster secret only (auth.ts); say so before the first drone is refused.
    log.warn(
      "No cluster secret configured: drone and proxy sockets will be refused (they do not " +
        "accept API keys); set --cluster-secret / PLANE_CLUSTER_SECRET",
    );
  }

  let closing: Promise<void> | null = null;
  return {
    name,
    fetch: (req, info) => app(req, remoteIpOf(info)),
    close() {
      closing ??= (async () => {
        abort.abort();
        ctx.usage.close();
        ctx.prometheus.close();
        await Promise.all(loops);
        await markControllerOffline(db, name).catch((err) =>
          log.warn("Could not mark the controller offline", { err })
        );
        await bus.close();
        await logs.close();
        log.info("Controller stopped", { name });
      })();
      return closing;
    },
  };
}

// What the CLI and the other roles use from this folder (style.md §3: mod.ts is the door).
export { ControllerConfig, isLoopbackHost, isOpen } from "./config.ts";
export type { ControllerConfigInput } from "./config.ts";
export { configFromEnv, CONTROLLER_ENV, describeConfigError, toNumber } from "./config_from_env.ts";
export type { EnvReader } from "./config_from_env.ts";
export { keyTimingsForLease, MIN_KEY_LEASE_MS } from "./key_timings.ts";
export { bindRefusal } from "./open_access.ts";
export { controllerStartingResponse } from "./starting_response.ts";
