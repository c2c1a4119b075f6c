/** `plane terminate BACKEND` (plane-0.5.md §11.1): soft or hard, optionally following to the end. */
import { formatStatusEntry } from "../admin_format.ts";
import { UsageError } from "../usage_error.ts";
import { type AdminCommandSpec, emit, follow } from "./context.ts";

export const terminateCommand: AdminCommandSpec = {
  options: {
    hard: { type: "boolean" },
    wait: { type: "boolean" },
    immediate: { type: "boolean" },
  },
  positionals: { required: ["BACKEND"], optional: [] },
  async run(ctx) {
    const backendId = ctx.positionals[0]!;
    if (ctx.values.wait && ctx.values.immediate) {
      throw new UsageError(
        `--wait and --immediate exclude each other: see "plane terminate --help"`,
      );
    }
    const hard = ctx.values.hard === true;
    // With --wait, the status is read before the request: read after it, a fast drone may
    // already be terminating, and the output would depend on the race.
    const current = ctx.values.wait ? await ctx.client.status(backendId) : null;
    await ctx.client.terminate(backendId, { hard });
    const kind = hard ? "hard" : "soft";
    emit(
      ctx,
      { "backend_id": backendId, terminate: kind },
      () => `Requested a ${kind} terminate of backend ${backendId}`,
    );
    if (current === null) return 0;
    emit(ctx, current, () => formatStatusEntry(current));
    await follow(ctx, backendId, ["terminated"], current.status);
    return 0;
  },
};
