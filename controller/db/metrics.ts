/** Backend metrics fan-out (plane-0.5.md §1.4 point 4, plane-0.5.md §6.2). */
import type { Queryable } from "./database.ts";
import type { BackendMetricsMessage } from "../../shared/mod.ts";

/** The NOTIFY channel of backend metrics; not stored, for external consumers only. */
export const METRICS_CHANNEL = "plane_backend_metrics";

/** Publishes one sample as `{payload, timestamp, kind: "backend_metrics", key}` (Plane's shape). */
export async function notifyBackendMetrics(
  db: Queryable,
  metrics: BackendMetricsMessage,
): Promise<void> {
  await db.query(
    `select pg_notify($1, json_build_object(
       'payload', $2::json, 'timestamp', now(), 'kind', 'backend_metrics', 'key', $3::text
     )::text)`,
    [METRICS_CHANNEL, JSON.stringify(metrics), metrics.backend_id],
  );
}
