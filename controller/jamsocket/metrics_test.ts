import assert from "node:assert/strict";
import { toJamsocketMetrics } from "./metrics.ts";
import type { BackendMetricsMessage } from "../../shared/protocol.ts";

const SAMPLE = {
  "backend_id": "b1",
  "mem_used": 100,
  "mem_total": 300,
  "mem_active": 0,
  "mem_inactive": 0,
  "mem_unevictable": 0,
  "mem_limit": 0,
  "cpu_used": 20,
  "sys_cpu": 80,
} as BackendMetricsMessage;

Deno.test("toJamsocketMetrics() keeps the CPU pair and reports the memory limit as available", () => {
  assert.deepEqual(toJamsocketMetrics({ ...SAMPLE, "mem_limit": 1000 }, "c.example"), {
    cluster: "c.example",
    "backend_id": "b1",
    "mem_used": 100,
    "mem_available": 1000,
    "cpu_used": 20,
    "sys_cpu": 80,
  });
});

Deno.test("toJamsocketMetrics() without a limit reports the drone's total; no interval yet is 0 of 1", () => {
  const first = toJamsocketMetrics({ ...SAMPLE, "cpu_used": 0, "sys_cpu": 0 }, "c");
  assert.equal(first.mem_available, 300);
  assert.deepEqual([first.cpu_used, first.sys_cpu], [0, 1]);
});
