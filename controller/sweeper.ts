/**
 * The sweepers (plane-0.5.md §6.7 and decisions.md §2). Per connected drone, on the
 * controller holding its socket: soft-terminate backends past their idle or lifetime limit.
 * Cluster-wide, on every controller: release live backends whose drone is gone (`lost`).
 */
import type { ControllerContext } from "./context.ts";
import {
  applyBackendState,
  cancelPendingActions,
  expiredBackends,
  lockIfLive,
  lostBackends,
  queueTerminate,
} from "./db/mod.ts";
import { lostState } from "./lost_backend.ts";

type SweepContext = Pick<ControllerContext, "db" | "config" | "log">;

/**
 * Queues `Terminate {soft, swept}` for each idle or expired backend of the drone; at most one
 * pending soft terminate per backend (decisions.md §2.2). Returns the backends it queued for.
 */
export async function sweepDrone(ctx: SweepContext, droneId: number): Promise<string[]> {
  const queued: string[] = [];
  for (const backendId of await expiredBackends(ctx.db, droneId)) {
    const result = await queueTerminate(ctx.db, backendId, { kind: "soft", reason: "swept" });
    if (result.kind === "queued") {
      ctx.log.info("Sweeping an idle or expired backend", { backendId, droneId });
      queued.push(backendId);
    }
  }
  return queued;
}

/** Most candidates one pass reads at a time; a pass keeps reading until none are left. */
const LOST_BATCH = 100;

/**
 * Marks backends whose drone has been out of contact past the key lease, with the key expired,
 * as `terminated` with reason `lost` (issue 11, finding 3; `lost_backend.ts` explains why that
 * is safe; Plane leaves them forever, plane-0.5.md §14.9 item 9). Their undelivered actions are
 * cancelled in the same transaction and the key is released. Every controller runs this; the row
 * lock and the monotonic state update (plane-0.5.md §4.2) make concurrent runs harmless. Returns
 * the backends marked.
 */
export async function sweepLostBackends(ctx: SweepContext): Promise<string[]> {
  const marked: string[] = [];
  // Batches until the candidates run out, so a drone with many backends is released within
  // one pass (the documented deadline is one lease plus one sweep interval).
  for (let batch = 0; batch < 1_000; batch++) {
    const candidates = await lostBackends(ctx.db, {
      leaseMs: ctx.config.keyLeaseMs,
      unhealthyMs: ctx.config.unhealthyMs,
      limit: LOST_BATCH,
    });
    let markedNow = 0;
    for (const backendId of candidates) {
      const applied = await ctx.db.transaction(async (tx) => {
        // The drone may have come back and moved it on since the candidates were read.
        const current = await lockIfLive(tx, backendId);
        if (current === null) return false;
        if (!await applyBackendState(tx, backendId, lostState(current))) return false;
        await cancelPendingActions(tx, backendId);
        return true;
      });
      if (applied) {
        ctx.log.warn("Marked a backend lost: its drone is gone past the key lease", {
          backendId,
        });
        marked.push(backendId);
        markedNow++;
      }
    }
    if (candidates.length < LOST_BATCH || markedNow === 0) break;
  }
  return marked;
}
