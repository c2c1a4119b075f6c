/**
 * The door of drone/executor/ (style.md §3, §9): the `Executor` interface, the Docker and
 * local-process runtimes with their pure configuration, the readiness probe and the fake. The
 * conformance suite (`conformance.ts`, test-only) is imported directly by the runtimes' tests.
 *
 * @module
 */
export * from "./deno_image.ts";
export * from "./docker.ts";
export * from "./docker_api.ts";
export * from "./docker_config.ts";
export * from "./docker_connect.ts";
export * from "./docker_metrics.ts";
export * from "./docker_pull.ts";
export * from "./ended_tails.ts";
export * from "./executor.ts";
export * from "./fake.ts";
export * from "./free_port.ts";
export * from "./local_process.ts";
export * from "./log_tail.ts";
export * from "./pid_files.ts";
export * from "./process_identity.ts";
export * from "./process_usage.ts";
export * from "./readiness.ts";
