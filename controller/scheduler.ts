/**
 * Choosing a drone for a new backend (plane-0.5.md §6.6): "power of two choices". Sample
 * `bestOf` eligible drones at random, then take the one with the fewest live backends; ties go
 * to the first in the random order. Pure: the eligible candidates are loaded by
 * `db/connect_queries.ts`, and randomness is injectable so tests are deterministic.
 */

/** An eligible drone, as loaded by the candidates query (eligibility is decided in SQL). */
export interface DroneCandidate {
  /** Node id (also the drone id carried in actions). */
  id: number;
  name: string;
  /**
   * The drone's own clock at its latest heartbeat, epoch ms; key deadlines are relative to it
   * (plane-0.5.md §5.3).
   */
  lastLocalTime: number;
  /** Backends on the drone whose status is not `terminated` (`scheduled` ones count). */
  liveBackends: number;
}

export interface PickDroneOptions {
  /** How many drones to sample before comparing load (Plane's `--best-of`, default 2). */
  bestOf: number;
  /** Uniform in [0, 1), like `Math.random` (the default). */
  random?: () => number;
}

export type PickDroneResult<C extends DroneCandidate = DroneCandidate> =
  | { ok: true; drone: C }
  | { ok: false; reason: "no_drone_available" };

/** Picks the least loaded of `bestOf` randomly sampled candidates. */
export function pickDrone<C extends DroneCandidate>(
  candidates: readonly C[],
  options: PickDroneOptions,
): PickDroneResult<C> {
  const random = options.random ?? Math.random;
  const sample = randomSample(candidates, Math.max(1, options.bestOf), random);
  let best: C | undefined;
  for (const candidate of sample) {
    // Strictly fewer only: on a tie the earlier one in the random order stays (plane-0.5.md §6.6).
    if (best === undefined || candidate.liveBackends < best.liveBackends) best = candidate;
  }
  return best === undefined
    ? { ok: false, reason: "no_drone_available" }
    : { ok: true, drone: best };
}

/**
 * The first `size` elements of a partial Fisher–Yates shuffle: a uniform random sample in
 * random order, like SQL's `order by random() limit n`, without copying more than needed.
 */
function randomSample<T>(items: readonly T[], size: number, random: () => number): T[] {
  const pool = [...items];
  const count = Math.min(size, pool.length);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, count);
}
