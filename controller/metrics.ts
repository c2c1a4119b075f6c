/**
 * The controller's Prometheus series (issue 15, decisions.md §3.7): counters this
 * instance keeps (connects, latencies, spawn-to-ready) plus the cluster's state read from the
 * database at scrape time (`db/cluster_metrics.ts`). Served at `GET /metrics` on the API port
 * (`routes/metrics.ts`), behind the API key unless `--metrics-public`.
 */
import process from "node:process";
import {
  createHistogram,
  type Family,
  LATENCY_BUCKETS,
  type MetricDef,
  metricDefiners,
  observe,
  type ProcessSampler,
  renderMetrics,
  single,
  startProcessSampler,
  STARTUP_BUCKETS,
} from "../shared/mod.ts";
import type { ClusterMetricsRows } from "./db/mod.ts";

const { gauge, counter, histogram } = metricDefiners("controller");
/** Series with one sample per drone: the labels say which cluster and which drone. */
const PER_DRONE = { labels: ["cluster", "drone"] } as const;

export const CONTROLLER_METRICS = {
  backends: gauge(
    "plane_backends",
    "Backends in the database, by cluster and last status (terminated ones until cleanup)",
    { labels: ["cluster", "status"] },
  ),
  droneBackends: gauge(
    "plane_drone_live_backends",
    "Backends not yet terminated, by the drone that runs them",
    PER_DRONE,
  ),
  connects: counter(
    "plane_connects_total",
    "POST /ctrl/connect requests this controller answered, by outcome: existing, " +
      "spawned, invalid (a refused request), error (an internal failure), or the error kind",
    { labels: ["outcome"] },
  ),
  connectDuration: histogram(
    "plane_connect_duration_seconds",
    "Time this controller took to answer POST /ctrl/connect",
  ),
  spawnToReady: histogram(
    "plane_backend_spawn_to_ready_seconds",
    "Time from a backend's connect to its ready status, for ready events this " +
      "controller recorded",
  ),
  actionQueue: gauge(
    "plane_action_queue_depth",
    "Actions (spawn, terminate) waiting for a drone's ack, by drone",
    { labels: ["drone"] },
  ),
  heartbeatAge: gauge(
    "plane_drone_heartbeat_age_seconds",
    "Seconds since each connected drone's last heartbeat (sent every 7 s)",
    PER_DRONE,
  ),
  draining: gauge(
    "plane_drone_draining",
    "1 for a connected drone that is draining (no new backends)",
    PER_DRONE,
  ),
  sockets: gauge(
    "plane_controller_sockets",
    "Drone and proxy sockets connected to this controller instance",
    { labels: ["kind"] },
  ),
} as const satisfies Record<string, MetricDef>;

/** What the connect handler counts: existing, spawned, invalid, error, or an error kind. */
export type ConnectOutcome = string;

export class ControllerMetrics {
  readonly #connects = new Map<string, number>();
  readonly #connectDuration = createHistogram(LATENCY_BUCKETS);
  readonly #spawnToReady = createHistogram(STARTUP_BUCKETS);
  readonly #process: ProcessSampler;

  constructor() {
    this.#process = startProcessSampler({
      rss: () => Deno.memoryUsage().rss,
      heap: () => {
        const { heapUsed, heapTotal } = Deno.memoryUsage();
        return { used: heapUsed, total: heapTotal };
      },
      cpuMicros: () => process.cpuUsage(),
    });
  }

  connect(outcome: ConnectOutcome, seconds: number): void {
    this.#connects.set(outcome, (this.#connects.get(outcome) ?? 0) + 1);
    observe(this.#connectDuration, seconds);
  }

  spawnToReady(seconds: number): void {
    observe(this.#spawnToReady, seconds);
  }

  render(rows: ClusterMetricsRows, sockets: { drones: number; proxies: number }): string {
    const m = CONTROLLER_METRICS;
    const families: Family[] = [
      {
        def: m.backends,
        samples: rows.backendsByStatus.map((r) => ({
          labels: [r.cluster, r.status],
          value: r.count,
        })),
      },
      {
        def: m.droneBackends,
        samples: rows.backendsByDrone.map((r) => ({
          labels: [r.cluster, r.drone],
          value: r.count,
        })),
      },
      {
        def: m.connects,
        samples: [...this.#connects].map(([outcome, n]) => ({ labels: [outcome], value: n })),
      },
      single(m.connectDuration, this.#connectDuration),
      single(m.spawnToReady, this.#spawnToReady),
      {
        def: m.actionQueue,
        samples: rows.pendingActions.map((r) => ({ labels: [r.drone], value: r.count })),
      },
      {
        def: m.heartbeatAge,
        samples: rows.drones.map((r) => ({ labels: [r.cluster, r.drone], value: r.ageSeconds })),
      },
      {
        def: m.draining,
        samples: rows.drones.map((r) => ({
          labels: [r.cluster, r.drone],
          value: r.draining ? 1 : 0,
        })),
      },
      {
        def: m.sockets,
        samples: [
          { labels: ["drone"], value: sockets.drones },
          { labels: ["proxy"], value: sockets.proxies },
        ],
      },
      ...this.#process.families(),
    ];
    return renderMetrics(families);
  }

  close(): void {
    this.#process.stop();
  }
}
