import assert from "node:assert/strict";
import { InFlightPlacements } from "./in_flight_placements.ts";
import { type DroneCandidate, pickDrone } from "./scheduler.ts";

function drone(id: number, liveBackends: number): DroneCandidate {
  return { id, name: `dr-${id}`, lastLocalTime: 0, liveBackends };
}

Deno.test("InFlightPlacements.withInFlight() adds uncommitted placements to each drone's load", () => {
  const placements = new InFlightPlacements();
  const releaseA = placements.begin(1);
  placements.begin(1);
  placements.begin(2);
  const candidates = [drone(1, 3), drone(2, 0), drone(3, 1)];
  assert.deepEqual(placements.withInFlight(candidates).map((c) => c.liveBackends), [5, 1, 1]);
  // The input is not changed.
  assert.deepEqual(candidates.map((c) => c.liveBackends), [3, 0, 1]);
  releaseA();
  releaseA();
  assert.equal(placements.count(1), 1);
  assert.deepEqual(placements.withInFlight(candidates).map((c) => c.liveBackends), [4, 1, 1]);
});

Deno.test("InFlightPlacements: concurrent picks from one stale load snapshot spread out", () => {
  // Every pick sees the same committed loads (all zero), as concurrent connects do.
  const placements = new InFlightPlacements();
  const snapshot = [drone(1, 0), drone(2, 0)];
  const picked: number[] = [];
  for (let i = 0; i < 4; i++) {
    const result = pickDrone(placements.withInFlight(snapshot), { bestOf: 2, random: () => 0 });
    assert.ok(result.ok);
    placements.begin(result.drone.id);
    picked.push(result.drone.id);
  }
  assert.deepEqual(picked, [1, 2, 1, 2]);
});
