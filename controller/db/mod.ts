/**
 * The door of controller/db/ (style.md §3, §22): the `Database` seam and its Postgres
 * implementation, migrations, and the statements of every controller concern. Database errors
 * become result values inside this folder. The dev/test databases (`pglite_database.ts`,
 * `test_database.ts`) stay out of this door, so the controller's Deno Deploy runtime never loads
 * PGlite; import them directly.
 *
 * @module
 */
export * from "./actions.ts";
export * from "./backend_info.ts";
export * from "./backend_state.ts";
export * from "./cert_lease.ts";
export * from "./cleanup.ts";
export * from "./cluster_metrics.ts";
export * from "./connect_queries.ts";
export * from "./controllers.ts";
export * from "./database.ts";
export * from "./drones.ts";
export * from "./events.ts";
export * from "./keys.ts";
export * from "./metrics.ts";
export * from "./migrate.ts";
export * from "./nodes.ts";
export * from "./pg_database.ts";
export * from "./revoke.ts";
export * from "./route_info.ts";
export * from "./sweeps.ts";
