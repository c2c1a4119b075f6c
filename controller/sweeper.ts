/**
 * The sweepers (behaviour doc §6.7 and decisions.md fixed quirks). Per connected drone, on the
 * controller holding its socket: soft-terminate backends past their idle or lifetime limit.
 * Cluster-wide, on every controller: release `scheduled` backends whose drone is gone.
 */
import type { ControllerContext } from "./context.ts";
import { cancelPendingActions, queueTerminate } from "./db/actions.ts";
import { expiredBackends, lockIfScheduled, lostBackends } from "./db/sweeps.ts";
import { applyBackendState } from "./db/backend_state.ts";
import type { BackendState } from "../shared/backend_state.ts";

type SweepContext = Pick<ControllerContext, "db" | "config" | "log">;

/**
 * Queues `Terminate {soft, swept}` for each idle or expired backend of the drone; at most one
 * pending soft terminate per backend (decisions.md). Returns the backends it queued for.
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

const LOST: Omit<Extract<BackendState, { status: "terminated" }>, "last_status"> = {
  status: "terminated",
  termination: null,
  reason: "lost",
  "exit_code": null,
  error: "its drone went offline before starting it and did not come back within the key lease",
};

/**
 * Marks `scheduled` backends whose drone has been offline past the key lease as `terminated`
 * with reason `lost` (decisions.md; Plane leaves them forever, §14.9 item 9). Their undelivered
 * actions are cancelled in the same transaction. Every controller runs this; the monotonic
 * state update (§4.2) makes concurrent runs harmless. Returns the backends it marked.
 */
export async function sweepLostBackends(ctx: SweepContext): Promise<string[]> {
  const candidates = await lostBackends(ctx.db, {
    leaseMs: ctx.config.keyLeaseMs,
    unhealthyMs: ctx.config.unhealthyMs,
  });
  const marked: string[] = [];
  for (const backendId of candidates) {
    const applied = await ctx.db.transaction(async (tx) => {
      // The drone may have come back and moved it on since the candidates were read.
      if (!await lockIfScheduled(tx, backendId)) return false;
      if (!await applyBackendState(tx, backendId, { ...LOST, "last_status": "scheduled" })) {
        return false;
      }
      await cancelPendingActions(tx, backendId);
      return true;
    });
    if (applied) {
      ctx.log.warn("Marked a scheduled backend lost: its drone is gone", { backendId });
      marked.push(backendId);
    }
  }
  return marked;
}
