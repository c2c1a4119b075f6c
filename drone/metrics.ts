/**
 * The drone's Prometheus series (issue 15, decisions.md §3.7), served on its
 * `--metrics-port`. Per-backend CPU and memory carry a `backend` label here only: on the
 * controller they would multiply with every drone's backends.
 */
import type { DroneMetricsSnapshot } from "./drone.ts";
import {
  BackendStatus,
  type Family,
  type MetricDef,
  metricDefiners,
  single,
} from "../shared/mod.ts";

const { gauge, histogram } = metricDefiners("drone");

export const DRONE_METRICS = {
  backends: gauge("plane_drone_backends", "Backends this drone runs, by status", {
    labels: ["status"],
  }),
  spawnToReady: histogram(
    "plane_drone_spawn_to_ready_seconds",
    "Time from a Spawn action applied on the drone to the backend ready",
  ),
  connected: gauge(
    "plane_drone_controller_connected",
    "1 while the drone's controller connection is up",
  ),
  cpu: gauge(
    "plane_backend_cpu_usage_ratio",
    "CPU a backend used over the last sampling period (10 s), as a share of one core " +
      "(local runtime) or of the machine (Docker)",
    { labels: ["backend"] },
  ),
  memory: gauge(
    "plane_backend_memory_bytes",
    "Memory a backend uses (resident, page cache it can drop excluded), at the last sample",
    { labels: ["backend"] },
  ),
} as const satisfies Record<string, MetricDef>;

export function droneFamilies(snapshot: DroneMetricsSnapshot, connected: boolean): Family[] {
  const m = DRONE_METRICS;
  return [
    {
      def: m.backends,
      // Every status, zeros included: a series that vanishes reads as "no data", not 0.
      samples: BackendStatus.options.map((status) => ({
        labels: [status],
        value: snapshot.statuses.get(status) ?? 0,
      })),
    },
    single(m.spawnToReady, snapshot.spawnToReady),
    single(m.connected, connected ? 1 : 0),
    {
      def: m.cpu,
      samples: snapshot.samples.map((s) => ({
        labels: [s.backend_id],
        value: s.sys_cpu > 0 ? s.cpu_used / s.sys_cpu : 0,
      })),
    },
    {
      def: m.memory,
      samples: snapshot.samples.map((s) => ({ labels: [s.backend_id], value: s.mem_used })),
    },
  ];
}
