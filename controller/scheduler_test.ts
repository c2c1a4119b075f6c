import assert from "node:assert/strict";
import { type DroneCandidate, pickDrone } from "./scheduler.ts";

function drone(id: number, liveBackends: number): DroneCandidate {
  return { id, name: `dr-${id}`, lastLocalTime: 1_700_000_000_000, liveBackends };
}

/** A random source that replays `values` (then 0), for deterministic samples. */
function replay(...values: number[]): () => number {
  let i = 0;
  return () => values[i++] ?? 0;
}

Deno.test("pickDrone() reports no_drone_available when there are no candidates", () => {
  assert.deepEqual(pickDrone([], { bestOf: 2 }), { ok: false, reason: "no_drone_available" });
});

Deno.test("pickDrone() returns the only candidate", () => {
  const only = drone(1, 50);
  assert.deepEqual(pickDrone([only], { bestOf: 2 }), { ok: true, drone: only });
});

Deno.test("pickDrone() takes the least loaded drone of the sample", () => {
  // random 0 keeps the original order: the sample is the first two.
  const result = pickDrone([drone(1, 5), drone(2, 3), drone(3, 0)], {
    bestOf: 2,
    random: replay(0, 0),
  });
  assert.deepEqual(result, { ok: true, drone: drone(2, 3) });
});

Deno.test("pickDrone() only compares the sampled drones (best-of-N, not global minimum)", () => {
  // Sample drones 1 and 2; drone 3 (idle) is not sampled, so it is not chosen.
  const result = pickDrone([drone(1, 5), drone(2, 3), drone(3, 0)], {
    bestOf: 2,
    random: replay(0, 0),
  });
  assert.equal(result.ok && result.drone.id, 2);
});

Deno.test("pickDrone() breaks ties by the random order", () => {
  const candidates = [drone(1, 2), drone(2, 2), drone(3, 2)];
  // 0.99 at step 0 swaps the last drone to the front of the random order.
  const result = pickDrone(candidates, { bestOf: 3, random: replay(0.99, 0.99) });
  assert.equal(result.ok && result.drone.id, 3);
  const other = pickDrone(candidates, { bestOf: 3, random: replay(0, 0, 0) });
  assert.equal(other.ok && other.drone.id, 1);
});

Deno.test("pickDrone() with bestOf larger than the candidates compares all of them", () => {
  const result = pickDrone([drone(1, 9), drone(2, 1), drone(3, 4)], { bestOf: 10 });
  assert.equal(result.ok && result.drone.id, 2);
});

Deno.test("pickDrone() with bestOf 1 picks uniformly at random", () => {
  const candidates = [drone(1, 0), drone(2, 100)];
  const seen = new Set<number>();
  for (const r of [0, 0.5, 0.99]) {
    const result = pickDrone(candidates, { bestOf: 1, random: () => r });
    if (result.ok) seen.add(result.drone.id);
  }
  assert.deepEqual([...seen].sort(), [1, 2]);
});

Deno.test("pickDrone() samples uniformly: every drone is reachable with the default random", () => {
  const candidates = Array.from({ length: 5 }, (_, i) => drone(i + 1, 0));
  const seen = new Set<number>();
  for (let i = 0; i < 500 && seen.size < 5; i++) {
    const result = pickDrone(candidates, { bestOf: 2 });
    if (result.ok) seen.add(result.drone.id);
  }
  assert.equal(seen.size, 5);
});

Deno.test("pickDrone() does not reorder the caller's array", () => {
  const candidates = [drone(1, 0), drone(2, 0), drone(3, 0)];
  pickDrone(candidates, { bestOf: 3, random: replay(0.99, 0.99) });
  assert.deepEqual(candidates.map((c) => c.id), [1, 2, 3]);
});
