/**
 * Every Prometheus series the code can expose (issue 15), gathered from each role's definition
 * table: the README's metrics table (`config_docs.ts`), the Grafana dashboard check
 * (`deploy/deploy_test.ts`) and the scrape tests read this list, so none can name a series the
 * code does not have.
 */
import type { MetricDef } from "../shared/metrics.ts";
import { PROCESS_METRICS } from "../shared/process_metrics.ts";
import { CONTROLLER_METRICS } from "../controller/metrics.ts";
import { DRONE_METRICS } from "../drone/metrics.ts";
import { PROXY_METRICS } from "../proxy/metrics.ts";

export const ALL_METRICS: readonly MetricDef[] = [
  ...Object.values(CONTROLLER_METRICS),
  ...Object.values(DRONE_METRICS),
  ...Object.values(PROXY_METRICS),
  ...Object.values(PROCESS_METRICS),
];

/** The names a PromQL expression may use for `def`: a histogram's `_bucket`, `_sum`, `_count`. */
export function seriesNames(def: MetricDef): string[] {
  return def.type === "histogram"
    ? [`${def.name}_bucket`, `${def.name}_sum`, `${def.name}_count`]
    : [def.name];
}
