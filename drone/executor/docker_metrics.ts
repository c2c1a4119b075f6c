/**
 * Backend metrics from Docker's stats answer (plane-0.5.md §3.8), pure so both cgroup versions
 * are unit-tested without a daemon.
 */
import type { BackendMetricsMessage, BackendName } from "../../shared/mod.ts";

/** The part of Docker's stats answer the metrics use (cgroup v1 and v2 field names). */
interface CpuStats {
  "cpu_usage"?: { "total_usage"?: number };
  "system_cpu_usage"?: number;
}
export interface DockerStats {
  "memory_stats"?: { usage?: number; limit?: number; stats?: Record<string, number> };
  "cpu_stats"?: CpuStats;
  "precpu_stats"?: CpuStats;
}

/**
 * Plane's memory and CPU arithmetic (plane-0.5.md §3.8) over one stats answer: cgroup v2
 * names `anon`/`file`, v1 `rss`/`cache`; CPU as deltas against the previous reading Docker
 * includes (`precpu_stats`). Null when the container reports no memory (not running).
 */
export function metricsFromStats(backendId: string, s: DockerStats): BackendMetricsMessage | null {
  const memory = s.memory_stats;
  const stats = memory?.stats;
  if (!memory || !stats || memory.usage === undefined) return null;
  const n = (key: string) => stats[key] ?? 0;
  const v2 = "anon" in stats;
  const total = v2
    ? n("file") + n("anon") + n("kernel_stack") + n("sock") + n("slab")
    : n("rss") + n("cache");
  const active = v2 ? n("active_anon") + n("active_file") : n("active_anon") + n("active_file");
  const inactive = v2
    ? n("inactive_anon") + n("inactive_file")
    : n("inactive_anon") + n("inactive_file");
  const inactiveFile = v2 ? n("inactive_file") : n("total_inactive_file");
  const cpu = (s.cpu_stats?.cpu_usage?.total_usage ?? 0) -
    (s.precpu_stats?.cpu_usage?.total_usage ?? 0);
  const sys = (s.cpu_stats?.system_cpu_usage ?? 0) - (s.precpu_stats?.system_cpu_usage ?? 0);
  return {
    "backend_id": backendId as BackendName,
    "mem_used": Math.max(0, memory.usage - inactiveFile),
    "mem_total": total,
    "mem_active": active,
    "mem_inactive": inactive,
    "mem_unevictable": n("unevictable"),
    "mem_limit": memory.limit ?? 0,
    "cpu_used": Math.max(0, cpu),
    "sys_cpu": Math.max(0, sys),
  };
}
