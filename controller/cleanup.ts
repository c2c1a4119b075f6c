// Stub: to be implemented (behaviour doc §8.11).
import type { ControllerContext } from "./context.ts";

/** One cleanup pass. */
export async function cleanupOnce(_ctx: ControllerContext): Promise<void> {}
