import assert from "node:assert/strict";
import { floor, heapMib, plateauRise, rssMib, slope } from "./soak_bench.ts";

Deno.test("slope() is the least-squares slope, 0 without spread", () => {
  assert.equal(slope([]), 0);
  assert.equal(slope([{ x: 1, y: 5 }]), 0);
  assert.equal(slope([{ x: 2, y: 1 }, { x: 2, y: 9 }]), 0);
  const line = [0, 1, 2, 3].map((x) => ({ x, y: 3 + 0.5 * x }));
  assert.equal(slope(line), 0.5);
  // Noise symmetric around a flat line leaves it flat.
  assert.equal(slope([{ x: 0, y: 1 }, { x: 1, y: -1 }, { x: 2, y: -1 }, { x: 3, y: 1 }]), 0);
});

Deno.test("rssMib() reads this process's VmRSS and null for a pid that is gone", () => {
  const own = rssMib(Deno.pid);
  assert.ok(own !== null && own > 1, `RSS ${own}`);
  assert.equal(rssMib(2 ** 30), null);
});

Deno.test("floor() keeps the lowest sample of each window, so a flat sawtooth has no slope", () => {
  // A sawtooth: rises 0..9 then drops, five times, around a flat floor of 100.
  const saw = Array.from({ length: 50 }, (_, x) => ({ x, y: 100 + (x % 10) }));
  assert.deepEqual(floor(saw, 5).map((p) => p.y), [100, 100, 100, 100, 100]);
  assert.equal(slope(floor(saw, 5)), 0);
  // A leak under the same sawtooth shows in the floor: 0.5 per x.
  const leak = saw.map((p) => ({ x: p.x, y: p.y + 0.5 * p.x }));
  assert.equal(slope(floor(leak, 5)), 0.5);
  assert.deepEqual(floor([], 3), []);
});

Deno.test("plateauRise() is the last 3/8's peak over the middle 3/8's: ~0 once a heap stops growing", () => {
  assert.equal(plateauRise([]), 0);
  // Grows to 100 by x = 40 of 0..80, then saws under it: no late rise.
  const settled = Array.from({ length: 81 }, (_, x) => ({ x, y: Math.min(100, 60 + x) - (x % 5) }));
  assert.equal(plateauRise(settled), 0);
  // A leak keeps raising the peak: 0.5 per x, peaks at x = 80 and x = 50.
  const leak = Array.from({ length: 81 }, (_, x) => ({ x, y: 60 + 0.5 * x }));
  assert.equal(plateauRise(leak), 15);
});

Deno.test("heapMib() reads the heap gauges of a /metrics text, null without them", () => {
  const text = "# TYPE plane_process_heap_used_bytes gauge\n" +
    "plane_process_heap_used_bytes 1048576\n" +
    "# TYPE plane_process_heap_total_bytes gauge\n" +
    "plane_process_heap_total_bytes 3145728\n";
  assert.deepEqual(heapMib(text), { used: 1, total: 3 });
  assert.equal(
    heapMib("# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 1\n"),
    null,
  );
});
