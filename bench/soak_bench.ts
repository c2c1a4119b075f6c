/**
 * `deno task bench` (third part): the soak of issue 11. N cycles (default 10,000) of connect →
 * ready → one request through the proxy → terminate (→ `terminated`), against `plane
 * controller`, `plane drone` (local runtime, echo backend) and `plane proxy` as users run them
 * (`startPlaneCluster`: deno.json's `plane` task flags, its `--v8-flags` included). Every
 * `--sample-every` cycles the soak reads each process's RSS (`VmRSS` of `/proc/<pid>/status`)
 * and scrapes its `/metrics` for the V8 heap in use and reserved (`plane_process_heap_used_bytes`,
 * `plane_process_heap_total_bytes`, every isolate of the process: the proxy's workers too).
 *
 * The PASS rule (issue 11, "How it must be shown"), unchanged by anything else printed: no cycle
 * failed, and for each of the three processes the least-squares slope of RSS against cycles,
 * after the warm-up, is within ±1 MiB per 1,000 cycles. A fall counts as much as a rise: a
 * big GC drop after the warm-up fails the run, and the run is repeated rather than excused.
 *
 * Printed beside it, as information that never changes the verdict: the slope of the RSS floor
 * (lowest sample of each of 10 windows, what survives garbage collection); the slopes of the
 * heap-in-use floor (≈ heap after GC: objects that stay) and of the reserved heap; and a
 * plateau check, the highest RSS of the last 3/8 of the cycles against that of the middle 3/8
 * (a leak keeps raising the peak; heaps growing to their working size stop). An RSS FAIL with a
 * flat heap floor and a plateau points at V8 heap sizing rather than leaked objects; it is
 * still a FAIL.
 *
 * The warm-up (`--warmup N` cycles, default 2,500 or half the run if shorter) is not a fraction
 * because it is a fixed cost: measured here, the V8 heaps of all three processes grow in a
 * sawtooth of tens of MiB to their working size over the first ~2,500 cycles whatever the run's
 * length. Runs under 5,000 cycles are therefore reported as too short. deno.json's
 * `--max-semi-space-size` bounds the young generation of every isolate (V8's default lets each
 * grow to 32 MiB × 2 over a long run, which kept the proxy's RSS climbing to ~6,500 cycles).
 *
 * Usage: deno run -A bench/soak_bench.ts [--cycles N] [--concurrency C] [--sample-every K]
 *        [--warmup N] [--samples-out FILE.json]
 * Exits 1 on FAIL or when a cycle fails.
 */
import { parseArgs } from "node:util";
import { startPlaneCluster } from "../tests/plane_process.ts";
import { collectStatuses } from "../tests/env.ts";
import { parsePrometheusText, sampleValue } from "../shared/prometheus_parse.ts";

/** Allowed growth per 1,000 cycles, in MiB (issue 11, "How it must be shown"). */
export const SLOPE_LIMIT_MIB = 1;
/** Cycles the processes' heaps take to reach their working size (measured, see above). */
export const WARMUP_CYCLES = 2_500;

function print(line = ""): void {
  // deno-lint-ignore no-console
  console.log(line);
}

/** Least-squares slope of `y` over `x`; 0 with fewer than two distinct x. */
export function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** The lowest point of each of `windows` equal ranges of x: the floor under a sawtooth. */
export function floor(
  points: readonly { x: number; y: number }[],
  windows: number,
): { x: number; y: number }[] {
  if (points.length === 0) return [];
  const lo = points[0]!.x;
  const span = points.at(-1)!.x - lo;
  const lowest = new Map<number, { x: number; y: number }>();
  for (const p of points) {
    const w = span === 0 ? 0 : Math.min(windows - 1, Math.floor(((p.x - lo) / span) * windows));
    const seen = lowest.get(w);
    if (seen === undefined || p.y < seen.y) lowest.set(w, p);
  }
  return [...lowest.keys()].sort((a, b) => a - b).map((w) => lowest.get(w)!);
}

/**
 * The highest y of the last 3/8 of the x range against the highest of the middle 3/8 (from
 * 2/8 to 5/8), in y's unit: how much the peak still rose late in the run.
 */
export function plateauRise(points: readonly { x: number; y: number }[]): number {
  if (points.length === 0) return 0;
  const lo = points[0]!.x;
  const span = points.at(-1)!.x - lo;
  const peak = (from: number, to: number) =>
    Math.max(
      ...points.filter((p) => p.x >= lo + span * from && p.x <= lo + span * to).map((p) => p.y),
    );
  return peak(5 / 8, 1) - peak(2 / 8, 5 / 8);
}

/** `plane_process_heap_used_bytes` and `_total_bytes` of a `/metrics` text, in MiB. */
export function heapMib(text: string): { used: number; total: number } | null {
  const families = parsePrometheusText(text);
  const used = sampleValue(families, "plane_process_heap_used_bytes");
  const total = sampleValue(families, "plane_process_heap_total_bytes");
  if (used === undefined || total === undefined) return null;
  return { used: used / 2 ** 20, total: total / 2 ** 20 };
}

/** `VmRSS` of a process in MiB, or null once it is gone. */
export function rssMib(pid: number): number | null {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const match = status.match(/^VmRSS:\s+(\d+)\s+kB/m);
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

function positive(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    throw new Error(`Invalid --${name}: expected a positive whole number, got "${raw}"`);
  }
  return value;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      cycles: { type: "string" },
      concurrency: { type: "string" },
      "sample-every": { type: "string" },
      warmup: { type: "string" },
      "samples-out": { type: "string" },
    },
  });
  const cycles = positive("cycles", values.cycles, 10_000);
  const concurrency = positive("concurrency", values.concurrency, 4);
  const sampleEvery = positive(
    "sample-every",
    values["sample-every"],
    Math.max(5, Math.round(cycles / 200)),
  );
  const warmup = values.warmup === undefined
    ? Math.min(WARMUP_CYCLES, Math.floor(cycles / 2))
    : Number(values.warmup);
  if (!(Number.isInteger(warmup) && warmup >= 0 && warmup < cycles)) {
    throw new Error("Invalid --warmup: expected a whole number of cycles below --cycles");
  }

  // Metrics on loopback ports of their own (0: any free one), scraped for the heap series.
  await using cluster = await startPlaneCluster({
    proxyArgs: ["--metrics-port", "0"],
    droneArgs: ["--metrics-port", "0"],
  });
  const processes = {
    controller: cluster.controller,
    drone: cluster.drone!,
    proxy: cluster.proxy!,
  };
  const metricsUrl = async (process: typeof cluster.controller) =>
    `${(await process.waitForLog((l) => l.message === "Metrics listening")).url}`;
  // The controller serves /metrics on its API port (open: this cluster has no API key).
  const scrapers: Record<string, () => Promise<Response>> = {
    controller: () => cluster.api("/metrics"),
    drone: ((url) => () => fetch(url))(await metricsUrl(processes.drone)),
    proxy: ((url) => () => fetch(url))(await metricsUrl(processes.proxy)),
  };
  type Series = Record<string, { x: number; y: number }[]>;
  const empty = (): Series => ({ controller: [], drone: [], proxy: [] });
  const samples = empty();
  const heapUsed = empty();
  const heapTotal = empty();
  let scrapeFailures = 0;
  const sample = async (cycle: number) => {
    for (const [role, process] of Object.entries(processes)) {
      const rss = rssMib(process.child.pid);
      if (rss !== null) samples[role]!.push({ x: cycle, y: rss });
      try {
        const answer = await scrapers[role]!();
        const heap = answer.ok ? heapMib(await answer.text()) : null;
        if (!answer.bodyUsed) await answer.body?.cancel();
        if (heap === null) throw new Error(`${role} /metrics answered ${answer.status}`);
        heapUsed[role]!.push({ x: cycle, y: heap.used });
        heapTotal[role]!.push({ x: cycle, y: heap.total });
      } catch (err) {
        if (scrapeFailures++ === 0) print(`scrape failed: ${(err as Error).message}`);
      }
      // The fixture keeps every log line for assertions; the soak has none, so drop them.
      process.logs.length = 0;
    }
  };

  let started = 0;
  let done = 0;
  let failures = 0;
  let nextSample = 0;
  let nextProgress = 1_000;
  const cycle = async () => {
    const connect = await cluster.connect({ "spawn_config": { executable: { image: "echo" } } });
    if (connect.status !== 200) throw new Error(`connect ${connect.status}`);
    const id = String(connect.body.backend_id);
    const ready = await (await cluster.api(`/pub/b/${id}/status?wait=ready`)).json();
    if (ready.status !== "ready") throw new Error(`backend ${id} ${ready.status}`);
    const answer = await fetch(String(connect.body.url));
    await answer.body?.cancel();
    if (answer.status !== 200) {
      const now = await (await cluster.api(`/pub/b/${id}/status`)).json();
      throw new Error(
        `proxy answered ${answer.status} for ${id} (status now ${JSON.stringify(now)})`,
      );
    }
    const stop = await cluster.api(`/ctrl/b/${id}/soft-terminate`, { method: "POST" });
    await stop.body?.cancel();
    // The status stream replays the history and ends after `terminated`.
    const statuses = await collectStatuses(cluster.controllerUrl, id, "terminated");
    if (statuses.at(-1)?.status !== "terminated") throw new Error(`backend ${id} not terminated`);
  };
  const t0 = performance.now();
  await sample(0);
  const worker = async () => {
    while (started < cycles) {
      started++;
      try {
        await cycle();
      } catch (err) {
        failures++;
        print(`cycle failed: ${(err as Error).message}`);
        // What the processes warned about since the last sample, to tell why.
        for (const [role, process] of Object.entries(processes)) {
          for (const line of process.logs) {
            if (line.level === "warn" || line.level === "error") {
              print(`  ${role}: ${JSON.stringify(line)}`);
            }
          }
        }
      }
      done++;
      if (done >= nextSample + sampleEvery) {
        nextSample = done;
        await sample(done);
      }
      // Not `done % 1_000`: other workers finish cycles while this one awaits a scrape.
      if (done >= nextProgress) {
        nextProgress += 1_000;
        print(`${nextProgress - 1_000} cycles, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await sample(done);
  const seconds = (performance.now() - t0) / 1000;

  print(
    `Soak: ${done} cycles (connect → ready → proxied request → terminate), concurrency ` +
      `${concurrency}, ${seconds.toFixed(0)} s, ${failures} failed; slopes after ${warmup} ` +
      `warm-up cycles`,
  );
  if (done < 2 * WARMUP_CYCLES) {
    print(
      `  (shorter than ${2 * WARMUP_CYCLES} cycles: heaps are still reaching their working ` +
        `size, so the slopes overstate growth)`,
    );
  }
  if (values["samples-out"] !== undefined) {
    await Deno.writeTextFile(
      values["samples-out"],
      JSON.stringify({ rss: samples, heapUsed, heapTotal }),
    );
  }
  if (scrapeFailures > 0) print(`  (${scrapeFailures} /metrics scrapes failed)`);
  const signed = (n: number) => `${n >= 0 ? "+" : ""}${n.toFixed(2)}`;
  const after = (points: readonly { x: number; y: number }[]) =>
    points.filter((p) => p.x >= warmup);
  let pass = failures === 0;
  for (const [role, points] of Object.entries(samples)) {
    const steady = after(points);
    const all = slope(steady) * 1_000;
    const floorSlope = slope(floor(steady, 10)) * 1_000;
    const ok = Math.abs(all) <= SLOPE_LIMIT_MIB;
    pass &&= ok;
    const first = points[0]?.y ?? 0;
    const last = points.at(-1)?.y ?? 0;
    print(
      `  ${role.padEnd(10)} RSS ${first.toFixed(1)} → ${last.toFixed(1)} MiB; slope ` +
        `${signed(all)} MiB per 1,000 cycles (target ±${SLOPE_LIMIT_MIB}; floor ` +
        `${signed(floorSlope)}): ${ok ? "PASS" : "FAIL"}`,
    );
    const used = after(heapUsed[role]!);
    const total = after(heapTotal[role]!);
    const range = (series: { y: number }[]) =>
      series.length === 0 ? "-" : `${series[0]!.y.toFixed(1)} → ${series.at(-1)!.y.toFixed(1)}`;
    print(
      `  ${"".padEnd(10)} (information) heap in use ${range(heapUsed[role]!)} MiB, floor ` +
        `slope ${signed(slope(floor(used, 10)) * 1_000)}; heap reserved ` +
        `${range(heapTotal[role]!)} MiB, slope ${signed(slope(total) * 1_000)}; RSS peak of ` +
        `the last 3/8 vs the middle 3/8 ${signed(plateauRise(points))} MiB`,
    );
  }
  print(pass ? "PASS" : "FAIL");
  return pass ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
