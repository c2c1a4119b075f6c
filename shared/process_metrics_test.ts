import assert from "node:assert/strict";
import { startProcessSampler } from "./process_metrics.ts";
import { renderMetrics } from "./metrics.ts";
import { parsePrometheusText, sampleValue } from "./prometheus_parse.ts";

Deno.test("process series: RSS, CPU, and the heap of this isolate plus the ones handed in", () => {
  const sampler = startProcessSampler({
    rss: () => 100,
    heap: () => ({ used: 10, total: 20 }),
    cpuMicros: () => ({ user: 1_500_000, system: 500_000 }),
  });
  try {
    const own = parsePrometheusText(renderMetrics(sampler.families()));
    assert.equal(sampleValue(own, "process_resident_memory_bytes"), 100);
    assert.equal(sampleValue(own, "process_cpu_seconds_total"), 2);
    assert.equal(sampleValue(own, "plane_process_heap_used_bytes"), 10);
    assert.equal(sampleValue(own, "plane_process_heap_total_bytes"), 20);
    // A proxy's workers: each is an isolate the main one's reading does not include; a worker
    // that did not answer (undefined) adds nothing.
    const workers = [{ used: 1, total: 4 }, undefined, { used: 2, total: 8 }];
    const all = parsePrometheusText(renderMetrics(sampler.families(workers)));
    assert.equal(sampleValue(all, "plane_process_heap_used_bytes"), 13);
    assert.equal(sampleValue(all, "plane_process_heap_total_bytes"), 32);
  } finally {
    sampler.stop();
  }
});
