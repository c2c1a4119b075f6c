/**
 * Prometheus text exposition format 0.0.4, by hand (decisions.md §3.7, issue 15): metric
 * definitions, a histogram that the proxy's hot path can observe into without allocating, and
 * the renderer. No I/O; each role gathers its numbers and hands them here at scrape time.
 *
 * Why not `npm:prom-client`: its labelled `inc()` builds a label key string per call and its
 * default metrics lean on Node's `perf_hooks`, and the proxy's counters must cross worker
 * threads as plain data anyway (`proxy/worker_protocol.ts`); the format itself is ~100 lines.
 * Format: https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 */

export type MetricType = "counter" | "gauge" | "histogram";

/** Where a series is exposed (the README table's "Endpoint" column). */
export type MetricSource = "controller" | "drone" | "proxy" | "all";

export interface MetricDef {
  /** Prometheus naming: `plane_` prefix, base units, `_total` on counters (checked by tests). */
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  /** Label names, in the order each sample's `labels` gives their values. */
  readonly labels: readonly string[];
  readonly source: MetricSource;
}

/** What a definition says besides its name and help: the labels, when there are any. */
export interface MetricOptions {
  readonly labels?: readonly string[];
}

/** Constructors for one endpoint's definitions: `gauge(name, help, { labels })` and so on. */
export interface MetricDefiners {
  gauge(name: string, help: string, options?: MetricOptions): MetricDef;
  counter(name: string, help: string, options?: MetricOptions): MetricDef;
  histogram(name: string, help: string, options?: MetricOptions): MetricDef;
}

/**
 * The definition constructors for the series `source` exposes, so a role's table reads one call
 * per series (name, help, labels) instead of repeating its type and endpoint in every entry.
 */
export function metricDefiners(source: MetricSource): MetricDefiners {
  function definer(type: MetricType) {
    return (name: string, help: string, options: MetricOptions = {}): MetricDef => ({
      name,
      type,
      help,
      labels: options.labels ?? [],
      source,
    });
  }
  return { gauge: definer("gauge"), counter: definer("counter"), histogram: definer("histogram") };
}

/** Bucket counts per upper bound (not cumulative; the last slot is `+Inf`), sum and count. */
export interface Histogram {
  readonly bounds: readonly number[];
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/** Request and connect latencies, in seconds: 1 ms to 60 s. */
export const LATENCY_BUCKETS: readonly number[] = Object.freeze([
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
]);

/** Backend start-up, in seconds: 100 ms to 10 min. */
export const STARTUP_BUCKETS: readonly number[] = Object.freeze([
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
  120,
  300,
  600,
]);

export function createHistogram(bounds: readonly number[]): Histogram {
  return { bounds, counts: new Float64Array(bounds.length + 1), sum: 0, count: 0 };
}

/** Records one value: a bucket increment, a sum and a count; allocates nothing. */
export function observe(h: Histogram, value: number): void {
  const bounds = h.bounds;
  let i = 0;
  while (i < bounds.length && value > bounds[i]!) i++;
  h.counts[i]!++;
  h.sum += value;
  h.count++;
}

/** Adds `from` into `into` (same bounds): one histogram from several workers. */
export function addHistogram(into: Histogram, from: Histogram): void {
  for (let i = 0; i < into.counts.length; i++) into.counts[i]! += from.counts[i] ?? 0;
  into.sum += from.sum;
  into.count += from.count;
}

export interface Sample {
  /** Label values, in the order of the definition's `labels`. */
  readonly labels: readonly string[];
  readonly value: number | Histogram;
}

export interface Family {
  readonly def: MetricDef;
  readonly samples: readonly Sample[];
}

/** The `Content-Type` of a scrape answer. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

function escapeLabel(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function labelText(names: readonly string[], values: readonly string[], extra?: string): string {
  const parts = names.map((name, i) => `${name}="${escapeLabel(values[i] ?? "")}"`);
  if (extra !== undefined) parts.push(extra);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

/** One family's lines: `# HELP`, `# TYPE`, then its samples (a histogram's buckets cumulated). */
function renderFamily({ def, samples }: Family, lines: string[]): void {
  lines.push(`# HELP ${def.name} ${escapeHelp(def.help)}`);
  lines.push(`# TYPE ${def.name} ${def.type}`);
  for (const sample of samples) {
    const value = sample.value;
    if (typeof value === "number") {
      lines.push(`${def.name}${labelText(def.labels, sample.labels)} ${formatValue(value)}`);
      continue;
    }
    let cumulative = 0;
    for (let i = 0; i < value.counts.length; i++) {
      cumulative += value.counts[i]!;
      const le = i < value.bounds.length ? formatValue(value.bounds[i]!) : "+Inf";
      lines.push(
        `${def.name}_bucket${labelText(def.labels, sample.labels, `le="${le}"`)} ${cumulative}`,
      );
    }
    const labels = labelText(def.labels, sample.labels);
    lines.push(`${def.name}_sum${labels} ${formatValue(value.sum)}`);
    lines.push(`${def.name}_count${labels} ${value.count}`);
  }
}

/** The exposition text of `families`, in order, ending with a newline. */
export function renderMetrics(families: readonly Family[]): string {
  const lines: string[] = [];
  for (const family of families) renderFamily(family, lines);
  return lines.join("\n") + "\n";
}

/** A family with one unlabelled sample. */
export function single(def: MetricDef, value: number | Histogram): Family {
  return { def, samples: [{ labels: [], value }] };
}
