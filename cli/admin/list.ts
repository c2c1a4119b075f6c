/** `plane list CLUSTER`: one page of the cluster's backends, filtered by status. */
import { BackendStatus } from "../../shared/mod.ts";
import { formatBackendList } from "../admin_format.ts";
import { UsageError } from "../usage_error.ts";
import { type AdminCommandSpec, emit, positiveInteger, stringValue } from "./context.ts";

export const listCommand: AdminCommandSpec = {
  options: {
    status: { type: "string", multiple: true },
    limit: { type: "string" },
    cursor: { type: "string" },
  },
  positionals: { required: ["CLUSTER"], optional: [] },
  async run(ctx) {
    const statuses = (ctx.values.status as string[] | undefined ?? []).flatMap((s) => s.split(","));
    for (const s of statuses) {
      if (!BackendStatus.safeParse(s).success) {
        throw new UsageError(
          `Invalid --status "${s}": expected one of ${BackendStatus.options.join(", ")}`,
        );
      }
    }
    const limit = stringValue(ctx.values, "limit");
    const page = await ctx.client.listBackends(ctx.positionals[0]!, {
      status: statuses as BackendStatus[],
      limit: limit === undefined ? undefined : positiveInteger("limit", limit, 1000),
      cursor: stringValue(ctx.values, "cursor"),
    });
    emit(ctx, page, () => formatBackendList(page, ctx.now()));
    return 0;
  },
};
