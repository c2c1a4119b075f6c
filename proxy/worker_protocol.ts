/**
 * Messages between a multi-worker proxy's main thread (`worker_pool.ts`) and its workers
 * (`proxy_worker.ts`). Both sides are our own code in one process, so they are typed, not parsed.
 */
import type { LogLevel, MessageFromProxy, MessageToProxy } from "../shared/mod.ts";
import type { ProxyMetricsSnapshot } from "./metrics.ts";
import type { EngineLimits } from "./engine/mod.ts";

/** What a worker needs to build its proxy and bind its listener: plain data only. */
export interface WorkerSetup {
  index: number;
  name: string;
  cluster: string;
  rootRedirectUrl?: string | undefined;
  pathRouting?: boolean | undefined;
  routeWaitMs?: number | undefined;
  keepAliveIntervalMs?: number | undefined;
  hostname: string;
  httpPort: number;
  https?: { port: number; certPath: string } | undefined;
  limits?: Partial<EngineLimits> | undefined;
  /**
   * The proxy's connection cap, counted across workers in one shared buffer (one slot per
   * worker, `connection_cap.ts`); absent: no cap.
   */
  connectionCap?: { limit: number; buffer: SharedArrayBuffer } | undefined;
  logLevel: LogLevel;
  /** The controller connection is up right now. */
  connected: boolean;
}

export type ToWorker =
  | { kind: "setup"; setup: WorkerSetup }
  /** The controller connection came up (`connected: true`) or went down. */
  | { kind: "link"; connected: boolean }
  /** A controller message, broadcast to every worker. */
  | { kind: "message"; message: MessageToProxy }
  | { kind: "stats"; id: number }
  | { kind: "stop"; graceMs: number }
  /** Tests: throw an uncaught error, as a bug would, to exercise the restart. */
  | { kind: "crash" };

export type FromWorker =
  | { kind: "listening"; httpPort: number; httpsPort: number | undefined }
  | { kind: "failed"; message: string }
  /** A message for the controller (route requests, keepalives). */
  | { kind: "send"; message: MessageFromProxy }
  /** The worker's counters (engine and route cache) for `stats()` and the metrics endpoint. */
  | { kind: "stats"; id: number; snapshot: ProxyMetricsSnapshot }
  | { kind: "stopped" };
