/**
 * The proxy's Prometheus series (issue 15, decisions.md §3.7): plain counters the
 * engine and route cache bump on the hot path, copied into a `ProxyMetricsSnapshot` at scrape
 * time. A multi-worker proxy asks each worker for its snapshot over the existing stats message
 * (`worker_protocol.ts`) and adds them up, so the hot path never talks across threads.
 */
import type { EngineStats } from "./engine/mod.ts";
import type { RouteCacheCounters } from "./route_cache.ts";
import {
  addHistogram,
  createHistogram,
  type Family,
  type HeapUsage,
  type Histogram,
  LATENCY_BUCKETS,
  type MetricDef,
  metricDefiners,
  single,
} from "../shared/mod.ts";

const { gauge, counter, histogram } = metricDefiners("proxy");

export const PROXY_METRICS = {
  requests: counter(
    "plane_proxy_requests_total",
    "Responses the proxy sent, by status class (1xx for upgrades)",
    { labels: ["class"] },
  ),
  duration: histogram(
    "plane_proxy_request_duration_seconds",
    "Time from a request head parsed to its response sent in full (the 101 for upgrades)",
  ),
  connections: gauge(
    "plane_proxy_active_connections",
    "Client connections open now, upgraded ones included",
  ),
  websockets: gauge("plane_proxy_active_websockets", "Upgraded connections (WebSockets) open now"),
  bytesIn: counter(
    "plane_proxy_received_bytes_total",
    "Bytes received from clients, tunnels included",
  ),
  bytesOut: counter("plane_proxy_sent_bytes_total", "Bytes sent to clients, tunnels included"),
  badGateway: counter(
    "plane_proxy_bad_gateway_total",
    "502s: the backend could not be reached or answered unframeably",
  ),
  cacheHits: counter("plane_proxy_route_cache_hits_total", "Route lookups answered from the cache"),
  cacheMisses: counter(
    "plane_proxy_route_cache_misses_total",
    "Route lookups that asked the controller",
  ),
  cacheEvictions: counter(
    "plane_proxy_route_cache_evictions_total",
    "Routes dropped from the cache to stay within its capacity",
  ),
  controllerConnected: gauge(
    "plane_proxy_controller_connected",
    "1 while the proxy's controller connection is up",
  ),
  workerRequests: counter(
    "plane_proxy_worker_requests_total",
    "Responses each engine (--workers) sent, by worker index: how the kernel spreads " +
      "connections across the workers sharing the port",
    { labels: ["worker"] },
  ),
  workers: gauge(
    "plane_proxy_workers",
    "Engines serving the port (--workers) that answered this scrape",
  ),
} as const satisfies Record<string, MetricDef>;

/** One engine's numbers at scrape time: plain data, so it crosses a worker boundary. */
export interface ProxyMetricsSnapshot {
  engine: EngineStats;
  routes: RouteCacheCounters;
  /** A worker's own V8 heap (each worker is an isolate); absent for the main isolate's engine. */
  heap?: HeapUsage;
}

/** Copies the live counters (the engine keeps incrementing its own). */
export function takeSnapshot(
  engine: Readonly<EngineStats>,
  routes: RouteCacheCounters,
  heap?: HeapUsage,
): ProxyMetricsSnapshot {
  const duration = engine.duration;
  return {
    ...heap === undefined ? {} : { heap: { ...heap } },
    engine: {
      ...engine,
      responses: engine.responses.slice(),
      duration: { ...duration, counts: duration.counts.slice() },
    },
    routes: { ...routes },
  };
}

const CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx"] as const;

/** The series of one proxy: the workers' snapshots added up (null: a worker did not answer). */
export function proxyFamilies(
  snapshots: readonly (ProxyMetricsSnapshot | null)[],
  options: { connected: boolean },
): Family[] {
  const responses = new Float64Array(6);
  const duration: Histogram = createHistogram(LATENCY_BUCKETS);
  const sum = {
    connections: 0,
    upgrades: 0,
    bytesIn: 0,
    bytesOut: 0,
    badGateway: 0,
    hits: 0,
    misses: 0,
    evictions: 0,
  };
  let workers = 0;
  const perWorker: { labels: string[]; value: number }[] = [];
  for (const [index, s] of snapshots.entries()) {
    if (s === null) continue;
    workers++;
    const e = s.engine;
    let served = 0;
    for (let i = 0; i < e.responses.length; i++) served += e.responses[i] ?? 0;
    perWorker.push({ labels: [String(index)], value: served });
    for (let i = 0; i < responses.length; i++) responses[i]! += e.responses[i] ?? 0;
    addHistogram(duration, e.duration);
    sum.connections += e.connections;
    sum.upgrades += e.upgrades;
    sum.bytesIn += e.bytesIn;
    sum.bytesOut += e.bytesOut;
    sum.badGateway += e.badGateway;
    sum.hits += s.routes.hits;
    sum.misses += s.routes.misses;
    sum.evictions += s.routes.evictions;
  }
  const m = PROXY_METRICS;
  return [
    {
      def: m.requests,
      samples: CLASSES.map((c, i) => ({ labels: [c], value: responses[i + 1]! })),
    },
    single(m.duration, duration),
    single(m.connections, sum.connections),
    single(m.websockets, sum.upgrades),
    single(m.bytesIn, sum.bytesIn),
    single(m.bytesOut, sum.bytesOut),
    single(m.badGateway, sum.badGateway),
    single(m.cacheHits, sum.hits),
    single(m.cacheMisses, sum.misses),
    single(m.cacheEvictions, sum.evictions),
    single(m.controllerConnected, options.connected ? 1 : 0),
    { def: m.workerRequests, samples: perWorker },
    single(m.workers, workers),
  ];
}
