/**
 * The controller's configuration: one zod schema with every default (style.md §37), parsed once
 * from flags and environment in `main.ts` / the CLI and passed down frozen.
 */
import { z } from "zod";
import {
  ClusterName,
  ControllerName,
  isInjectionEnvName,
  isReservedEnvName,
} from "../shared/mod.ts";
import { ServiceMap } from "./jamsocket/service_map.ts";

const Ms = z.number().int().positive();

export const ControllerConfig = z.object({
  /** Postgres URL, or a directory for embedded PGlite (decisions.md §3.2). */
  db: z.string().min(1, "A database is required: pass --db URL or set DATABASE_URL"),
  host: z.string().default("127.0.0.1"),
  port: z.number().int().min(0).max(65535).default(8080),
  /** Base of `status_url` in connect responses; defaults to `http://{host}:{port}`. */
  controllerUrl: z.url().optional(),
  defaultCluster: ClusterName.optional(),
  /** Names this process; random `co-…` per start when absent (plane-0.5.md §11.1). */
  name: ControllerName.optional(),
  cleanupMinAgeDays: z.number().int().positive().optional(),
  cleanupBatchSize: z.number().int().positive().default(100),
  /** URL asked before every `/ctrl/*` request (plane-0.5.md §2.10); any scheme `fetch` supports. */
  forwardAuth: z.url().optional(),
  bestOf: z.number().int().min(1).max(1000).default(2),
  /** Bearer keys accepted on `/ctrl/*` (decisions.md §3.1). */
  apiKeys: z.array(z.string().min(16, "API keys must be at least 16 characters")).default([]),
  /** Secret drones and proxies present on their sockets. */
  clusterSecret: z.string().min(16, "The cluster secret must be at least 16 characters").optional(),
  /** Allow unauthenticated access on a non-loopback host (otherwise refused at start-up). */
  allowInsecure: z.boolean().default(false),
  /**
   * Accept proxies that declare path routing (`plane proxy --path-routing`, jamsocket-api.md
   * §10.2): they reach a backend by its id alone, so this is for local development (issue 10).
   */
  allowPathRouting: z.boolean().default(false),
  /**
   * Serve `GET /metrics` without the API key (issue 15), for a Prometheus that cannot send a
   * bearer token; the series name drones and backend counts, never tokens or keys.
   */
  metricsPublic: z.boolean().default(false),
  logLevel: z.enum(["debug", "info", "warn", "error"]).default("info"),
  maxBodyBytes: z.number().int().positive().default(1024 * 1024),
  // Timings (plane-0.5.md §5.2); tests shorten them.
  heartbeatIntervalMs: Ms.default(7_000),
  /**
   * An action unacked this long after it was sent on a connection is sent again. Plane re-sends
   * every 5 s; under a burst that raced acks still queued (issue 11, finding 1), so 30 s.
   */
  actionResendIntervalMs: Ms.default(30_000),
  sweepIntervalMs: Ms.default(5_000),
  cleanupIntervalMs: Ms.default(180_000),
  unhealthyMs: Ms.default(45_000),
  /**
   * A drone name stays bound to its connection while that connection heartbeated within this
   * time (3 of the drone's 7 s heartbeats); a second socket for the name is refused until then
   * (issue 10, finding 3). Also the longest a drone whose old connection silently died waits
   * to get back in.
   */
  nodeNameHoldMs: Ms.default(21_000),
  keyLeaseMs: Ms.default(60_000),
  keyRenewAfterMs: Ms.default(30_000),
  keySoftTerminateAfterMs: Ms.default(40_000),
  keyHardTerminateAfterMs: Ms.default(50_000),
  tokenLifetimeMs: Ms.default(3_600_000),
  /** How long a route-info answer for a pending backend may be held (plane-0.5.md §7.6). */
  routeWaitMs: Ms.default(30 * 60_000),
  sseKeepAliveMs: Ms.default(15_000),
  /** Upper bound of `?timeout=` on `status?wait=ready`, in seconds. */
  maxWaitSeconds: z.number().int().positive().default(300),
  /**
   * Jamsocket-compatible API: `"account/service[/environment]"` → image and spawn defaults
   * (jamsocket-api.md §11 item 2). Empty: every Jamsocket connect is 404 ServiceNotFound.
   */
  services: ServiceMap.default({}),
  /** Jamsocket connects and spawns answer 429 once this many backends are not terminated. */
  maxBackends: z.number().int().positive().optional(),
  /**
   * Exact `executable.env` names a connect may set although a runtime, the loader or a shell
   * reads them as code (`shared/backend_env.ts`; issue 10, finding 4). Reserved names never.
   */
  allowBackendEnv: z.array(
    z.string().superRefine((name, ctx) => {
      if (isReservedEnvName(name)) {
        ctx.addIssue({
          code: "custom",
          message: `"${name}" is reserved for the platform (SESSION_BACKEND_*, PLANE_*) and ` +
            "cannot be opted in",
        });
      } else if (!isInjectionEnvName(name)) {
        ctx.addIssue({
          code: "custom",
          message: `"${name}" is not a refused name; only names such as NODE_OPTIONS, LD_* or ` +
            "PYTHON* need opting in",
        });
      }
    }),
  ).default([]),
}).superRefine((c, ctx) => {
  if (
    !(c.keyRenewAfterMs < c.keySoftTerminateAfterMs &&
      c.keySoftTerminateAfterMs < c.keyHardTerminateAfterMs &&
      c.keyHardTerminateAfterMs < c.keyLeaseMs)
  ) {
    ctx.addIssue({
      code: "custom",
      message:
        "Key timings must satisfy renew < soft terminate < hard terminate < lease (plane-0.5.md §5.2)",
    });
  }
});
export type ControllerConfig = z.infer<typeof ControllerConfig>;
export type ControllerConfigInput = z.input<typeof ControllerConfig>;

/** True when the controller would accept requests without any credential. */
export function isOpen(config: ControllerConfig): boolean {
  return config.apiKeys.length === 0 && config.clusterSecret === undefined &&
    config.forwardAuth === undefined;
}

export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\./.test(host);
}
