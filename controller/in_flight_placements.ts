/**
 * Spawns this controller has placed on a drone but not committed yet (issue 11, finding 7).
 * The candidates query counts committed backends only, so concurrent connects all saw the same
 * loads and best-of-2 decayed towards random placement (200 concurrent connects over 20 drones:
 * stdev 1.9–3.7 per drone instead of ~0.84). Adding these counts to each candidate's load makes
 * concurrent picks on one controller behave like sequential ones. Other controllers' in-flight
 * spawns stay invisible until they commit: each controller balances its own bursts.
 */
import type { DroneCandidate } from "./scheduler.ts";

export class InFlightPlacements {
  #counts = new Map<number, number>();

  /** `candidates` with each drone's in-flight placements added to `liveBackends`. */
  withInFlight<C extends DroneCandidate>(candidates: readonly C[]): C[] {
    return candidates.map((c) => {
      const extra = this.#counts.get(c.id) ?? 0;
      return extra === 0 ? c : { ...c, liveBackends: c.liveBackends + extra };
    });
  }

  /**
   * Counts one placement on `droneId` until the returned release is called (once its backend
   * row is committed, or the spawn failed). Releasing twice is harmless.
   */
  begin(droneId: number): () => void {
    this.#counts.set(droneId, (this.#counts.get(droneId) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#counts.get(droneId) ?? 1) - 1;
      if (left <= 0) this.#counts.delete(droneId);
      else this.#counts.set(droneId, left);
    };
  }

  /** In-flight placements on `droneId` (for tests and metrics). */
  count(droneId: number): number {
    return this.#counts.get(droneId) ?? 0;
  }
}
