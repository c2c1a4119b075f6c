// Stub: to be implemented (behaviour doc §6.7 and decisions.md).
import type { ControllerContext } from "./context.ts";

/** Marks `scheduled` backends whose drone has been offline past the lease expiry as lost. */
export async function sweepLostBackends(_ctx: ControllerContext): Promise<void> {}
