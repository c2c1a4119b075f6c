/**
 * The process series every role exposes (issue 15): resident memory, V8 heap, CPU time and
 * event-loop lag. The readers are injected (the shell passes `Deno.memoryUsage` and `node:process`
 * `cpuUsage`), so this file does no I/O. Lag is measured as the late firing of a coarse
 * interval timer: the cheapest probe that sees a blocked loop, and it works in every runtime.
 */
import type { Family, MetricDef } from "./metrics.ts";
import { metricDefiners, single } from "./metrics.ts";

const { gauge, counter } = metricDefiners("all");

export const PROCESS_METRICS = {
  rss: gauge("process_resident_memory_bytes", "Resident memory of the process, in bytes"),
  heapUsed: gauge(
    "plane_process_heap_used_bytes",
    "V8 heap in use (live and not yet collected objects), all isolates of the process " +
      "(a proxy's workers too), in bytes",
  ),
  // It grows to its working size under load, so RSS can climb while the heap in use (after GC)
  // stays flat: the soak (issue 11) prints both.
  heapTotal: gauge(
    "plane_process_heap_total_bytes",
    "V8 heap reserved (in use or free), all isolates of the process, in bytes",
  ),
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
  /** This isolate's V8 heap in bytes (`Deno.memoryUsage()` `heapUsed`, `heapTotal`). */
  heap(): HeapUsage;
  /** CPU time used, in microseconds (`node:process` `cpuUsage()`). */
  cpuMicros(): { user: number; system: number };
}

/** One isolate's V8 heap, in bytes: plain data, so a proxy worker can send its own. */
export interface HeapUsage {
  used: number;
  total: number;
}

export interface ProcessSampler {
  /** The series; `isolates` adds other isolates' heaps (a proxy's workers) to this one's. */
  families(isolates?: readonly (HeapUsage | undefined)[]): Family[];
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
    families(isolates = []) {
      const cpu = readers.cpuMicros();
      const heap = { ...readers.heap() };
      for (const other of isolates) {
        heap.used += other?.used ?? 0;
        heap.total += other?.total ?? 0;
      }
      return [
        single(PROCESS_METRICS.rss, readers.rss()),
        single(PROCESS_METRICS.heapUsed, heap.used),
        single(PROCESS_METRICS.heapTotal, heap.total),
        single(PROCESS_METRICS.cpu, (cpu.user + cpu.system) / 1e6),
        single(PROCESS_METRICS.lag, Math.max(last, worst) / 1000),
      ];
    },
    stop: () => clearInterval(timer),
  };
}
