import assert from "node:assert/strict";
import { metricsFromStats } from "./docker_metrics.ts";

Deno.test("metricsFromStats() applies Plane's cgroup v2 memory arithmetic and CPU deltas", () => {
  const sample = metricsFromStats("b1", {
    "memory_stats": {
      usage: 10_000,
      limit: 1_000_000,
      stats: {
        anon: 3000,
        file: 5000,
        "kernel_stack": 100,
        sock: 10,
        slab: 200,
        "active_anon": 2000,
        "active_file": 1000,
        "inactive_anon": 500,
        "inactive_file": 4000,
        unevictable: 7,
      },
    },
    "cpu_stats": { "cpu_usage": { "total_usage": 5_000 }, "system_cpu_usage": 90_000 },
    "precpu_stats": { "cpu_usage": { "total_usage": 3_000 }, "system_cpu_usage": 50_000 },
  });
  assert.deepEqual(sample, {
    "backend_id": "b1",
    "mem_used": 6000,
    "mem_total": 8310,
    "mem_active": 3000,
    "mem_inactive": 4500,
    "mem_unevictable": 7,
    "mem_limit": 1_000_000,
    "cpu_used": 2000,
    "sys_cpu": 40_000,
  });
});

Deno.test("metricsFromStats() uses cgroup v1 names and answers null without memory stats", () => {
  const sample = metricsFromStats("b1", {
    "memory_stats": { usage: 100, stats: { rss: 30, cache: 40, "total_inactive_file": 20 } },
  });
  assert.equal(sample?.mem_used, 80);
  assert.equal(sample?.mem_total, 70);
  assert.equal(metricsFromStats("b1", { "memory_stats": {} }), null);
  assert.equal(metricsFromStats("b1", {}), null);
});
