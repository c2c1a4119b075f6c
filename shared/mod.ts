/**
 * The door of shared/ (style.md §3, §4): the wire types (zod schemas and their types), names,
 * tokens, the one logger, the Plane client and the pure helpers every role uses. Nothing here
 * does I/O; importers outside shared/ come through this file.
 *
 * @module
 */
export * from "./api.ts";
export * from "./api_error.ts";
export * from "./backend_env.ts";
export * from "./backend_state.ts";
export * from "./backoff.ts";
export * from "./client.ts";
export * from "./cluster.ts";
export * from "./delay.ts";
export * from "./docker_fields.ts";
export * from "./jamsocket.ts";
export * from "./log.ts";
export * from "./metrics.ts";
export * from "./names.ts";
export * from "./process_metrics.ts";
export * from "./prometheus_parse.ts";
export * from "./protocol.ts";
export * from "./safe_text.ts";
export * from "./socket_client.ts";
export * from "./sse.ts";
export * from "./tokens.ts";
export * from "./unreachable.ts";
