/**
 * Recent resource samples per backend, for the dashboard (decisions.md §3.10). Drones
 * send one `BackendMetrics` per backend every 10 s (plane-0.5.md §3.8); Plane stores none of
 * them, so neither do we: this controller keeps the last `keep` samples of each backend in
 * memory, heard on `NOTIFY plane_backend_metrics` (every controller hears every drone's). It
 * starts listening when the dashboard first asks (`start`), so a controller nobody watches
 * holds no extra connection; samples from before that are not known.
 */
import type { BackendMetricsMessage, UsageSample } from "../shared/mod.ts";

/** 60 samples at 10 s: the last ten minutes. */
export const DEFAULT_KEEP = 60;
/** A backend unheard for this long is forgotten (it ended, or its drone is gone). */
export const FORGET_AFTER_MS = 15 * 60_000;

/** The dashboard's form of one drone sample (`cpu_percent` null without a CPU interval). */
export function toUsageSample(sample: BackendMetricsMessage, time: number): UsageSample {
  return {
    time,
    "cpu_percent": sample.sys_cpu > 0 ? (100 * sample.cpu_used) / sample.sys_cpu : null,
    "mem_used": sample.mem_used,
    "mem_limit": sample.mem_limit > 0 ? sample.mem_limit : null,
  };
}

type Subscribe = (
  listener: (sample: BackendMetricsMessage) => void,
) => Promise<() => void>;

export class UsageHistory {
  #samples = new Map<string, UsageSample[]>();
  #keep: number;
  #now: () => number;
  #starting: Promise<void> | null = null;
  #stop: (() => void) | null = null;
  #closed = false;

  constructor(options: { keep?: number; now?: () => number } = {}) {
    this.#keep = options.keep ?? DEFAULT_KEEP;
    this.#now = options.now ?? Date.now;
  }

  /** Subscribes once (idempotent); resolves when samples will be heard. */
  start(subscribe: Subscribe): Promise<void> {
    this.#starting ??= subscribe((sample) => this.record(sample)).then((stop) => {
      if (this.#closed) stop();
      else this.#stop = stop;
    });
    return this.#starting;
  }

  close(): void {
    this.#closed = true;
    this.#stop?.();
    this.#stop = null;
  }

  record(sample: BackendMetricsMessage): void {
    const now = this.#now();
    let list = this.#samples.get(sample.backend_id);
    if (!list) {
      this.#forgetStale(now);
      this.#samples.set(sample.backend_id, list = []);
    }
    list.push(toUsageSample(sample, now));
    if (list.length > this.#keep) list.splice(0, list.length - this.#keep);
  }

  /** The backend's samples, oldest first (a copy). */
  recent(backend: string): UsageSample[] {
    return [...(this.#samples.get(backend) ?? [])];
  }

  /** The newest sample if it is at most `maxAgeMs` old. */
  latest(backend: string, maxAgeMs: number): UsageSample | null {
    const last = this.#samples.get(backend)?.at(-1);
    return last && this.#now() - last.time <= maxAgeMs ? last : null;
  }

  /** Backends with samples (for tests and bounds). */
  get size(): number {
    return this.#samples.size;
  }

  #forgetStale(now: number) {
    for (const [backend, list] of this.#samples) {
      const last = list.at(-1);
      if (!last || now - last.time > FORGET_AFTER_MS) this.#samples.delete(backend);
    }
  }
}
