/**
 * The process series every role exposes (issue 15): resident memory, CPU time and event-loop
 * lag. The readers are injected (the shell passes `Deno.memoryUsage` and `node:process`
 * `cpuUsage`), so this file does no I/O. Lag is measured as the late firing of a coarse
 * interval timer: the cheapest probe that sees a blocked loop, and it works in every runtime.
 */
import type { Family, MetricDef } from "./metrics.ts";
import { metricDefiners, single } from "./metrics.ts";

const { gauge, counter } = metricDefiners("all");

export const PROCESS_METRICS = {
  rss: gauge("process_resident_memory_bytes", "Resident memory of the process, in bytes"),
  cpu: counter(
    "process_cpu_seconds_total",
    "User and system CPU time the process has used, in seconds",
  ),
  lag: gauge(
    "plane_event_loop_lag_seconds",
    "How late the event loop ran a timer, largest over the last sampling period",
  ),
} as const satisfies Record<string, MetricDef>;

export interface ProcessReaders {
  /** Resident set size in bytes. */
  rss(): number;
  /** CPU time used, in microseconds (`node:process` `cpuUsage()`). */
  cpuMicros(): { user: number; system: number };
}

export interface ProcessSampler {
  families(): Family[];
  stop(): void;
}

/** Starts the lag probe (an unref'd interval); `stop` ends it. */
export function startProcessSampler(
  readers: ProcessReaders,
  options: { intervalMs?: number } = {},
): ProcessSampler {
  const intervalMs = options.intervalMs ?? 500;
  let expected = performance.now() + intervalMs;
  let worst = 0;
  let last = 0;
  let periodStart = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - expected);
    expected = now + intervalMs;
    // Report the worst of the last ~5 s, so a scrape every 15 s still sees a recent spike.
    if (now - periodStart >= 10 * intervalMs) {
      last = worst;
      worst = 0;
      periodStart = now;
    }
  }, intervalMs);
  // The probe alone must not keep a process alive.
  Deno.unrefTimer(timer);
  return {
    families() {
      const cpu = readers.cpuMicros();
      return [
        single(PROCESS_METRICS.rss, readers.rss()),
        single(PROCESS_METRICS.cpu, (cpu.user + cpu.system) / 1e6),
        single(PROCESS_METRICS.lag, Math.max(last, worst) / 1000),
      ];
    },
    stop: () => clearInterval(timer),
  };
}
