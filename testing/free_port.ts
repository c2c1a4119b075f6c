/**
 * The free-port helper for tests and benchmarks: a loopback port that was free a moment ago, for
 * a process that must be told its port before it binds (`deno serve --port`, a cluster name).
 * It is the executors' own helper, so there is one implementation.
 */
export { freePort } from "../drone/executor/free_port.ts";
