/**
 * One cleanup pass (plane-0.5.md §8.11), run by each controller every `cleanupIntervalMs`:
 * with `cleanupMinAgeDays` set, one batch of old terminated backends (with their dependent
 * rows, in one transaction) and old events; always, expired tokens.
 */
import type { ControllerContext } from "./context.ts";
import { deleteExpiredTokens, deleteOldEvents, deleteOldTerminatedBackends } from "./db/mod.ts";

export interface CleanupResult {
  backends: number;
  events: number;
  tokens: number;
}

export async function cleanupOnce(
  ctx: Pick<ControllerContext, "db" | "config" | "log">,
): Promise<CleanupResult> {
  const { db, config, log } = ctx;
  const result: CleanupResult = { backends: 0, events: 0, tokens: 0 };
  const minAgeDays = config.cleanupMinAgeDays;
  if (minAgeDays !== undefined) {
    const ids = await db.transaction((tx) =>
      deleteOldTerminatedBackends(tx, { minAgeDays, batchSize: config.cleanupBatchSize })
    );
    result.backends = ids.length;
    result.events = await deleteOldEvents(db, minAgeDays);
  }
  result.tokens = await deleteExpiredTokens(db);
  if (result.backends + result.events + result.tokens > 0) log.info("Cleaned up", { ...result });
  return result;
}
