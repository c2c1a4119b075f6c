/** `plane cluster-state CLUSTER`: the cluster's drones and their backends. */
import { formatClusterState } from "../admin_format.ts";
import { type AdminCommandSpec, emit } from "./context.ts";

export const clusterStateCommand: AdminCommandSpec = {
  options: {},
  positionals: { required: ["CLUSTER"], optional: [] },
  async run(ctx) {
    const cluster = ctx.positionals[0]!;
    const state = await ctx.client.clusterState(cluster);
    emit(ctx, state, () => formatClusterState(cluster, state));
    return 0;
  },
};
