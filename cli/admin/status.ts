/** `plane status [BACKEND]`: the controller's status, or one backend's record. */
import { PLANE_HASH, PLANE_VERSION } from "../../shared/mod.ts";
import { formatBackendInfo, formatControllerStatus } from "../admin_format.ts";
import { type AdminCommandSpec, emit } from "./context.ts";

export const statusCommand: AdminCommandSpec = {
  options: {},
  positionals: { required: [], optional: ["BACKEND"] },
  async run(ctx) {
    const backendId = ctx.positionals[0];
    if (backendId === undefined) {
      const answer = await ctx.client.controllerStatus();
      emit(ctx, answer, () =>
        formatControllerStatus(ctx.client.controllerUrl, answer, {
          version: PLANE_VERSION,
          hash: PLANE_HASH,
        }));
      return 0;
    }
    const info = await ctx.client.backend(backendId);
    emit(ctx, info, () => formatBackendInfo(info, ctx.now()));
    return 0;
  },
};
