/**
 * Forwarding stub: the connect statements live in `connect_queries.ts`. Kept only because the
 * Plane and Jamsocket connect routes (being reworked on another branch) still import this path;
 * delete it once they import `connect_queries.ts` (or `db/mod.ts`).
 */
export * from "./connect_queries.ts";
