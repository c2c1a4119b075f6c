/** Everything a controller's handlers and loops share, built once by `createController`. */
import type { Database } from "./db/mod.ts";
import type { ControllerConfig } from "./config.ts";
import type { ControllerName, Logger } from "../shared/mod.ts";
import type { EventBus } from "./event_bus.ts";
import type { Sessions } from "./sessions.ts";
import type { MetricsHub } from "./jamsocket/metrics.ts";
import type { LogsHub } from "./logs_hub.ts";
import type { InFlightPlacements } from "./in_flight_placements.ts";
import type { UsageHistory } from "./usage_history.ts";
import type { ControllerMetrics } from "./metrics.ts";

export interface ControllerContext {
  readonly db: Database;
  readonly config: ControllerConfig;
  readonly log: Logger;
  readonly name: ControllerName;
  readonly bus: EventBus;
  /** Base URL of this controller's API, for `status_url` (plane-0.5.md §2.2). */
  readonly controllerUrl: string;
  /** Drone and proxy sockets connected to this instance. */
  readonly sessions: Sessions;
  /** Relays backend logs between drones and viewers on any controller. */
  readonly logs: LogsHub;
  /** Fans drone metrics samples out to `/v2/backend/{id}/metrics/stream` viewers. */
  readonly metrics: MetricsHub;
  /** Recent backend samples for the dashboard, heard once it first asks (extension 10). */
  readonly usage: UsageHistory;
  /** This instance's Prometheus counters (`GET /metrics`, issue 15). */
  readonly prometheus: ControllerMetrics;
  /** Spawns placed but not committed yet, counted by the scheduler (issue 11, finding 7). */
  readonly placements: InFlightPlacements;
  /** Aborted when the controller closes; every loop and stream stops on it. */
  readonly signal: AbortSignal;
}
