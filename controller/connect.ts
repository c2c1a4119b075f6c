/**
 * Forwarding stub: the connect algorithm lives in `connect_algorithm.ts`. Kept only because the
 * Plane and Jamsocket connect routes (being reworked on another branch) still import this path;
 * delete it once they import `connect_algorithm.ts`.
 */
export * from "./connect_algorithm.ts";
