/** `plane backend-status BACKEND`: follows the backend's statuses until it is terminated. */
import { type AdminCommandSpec, follow } from "./context.ts";

export const backendStatusCommand: AdminCommandSpec = {
  options: {},
  positionals: { required: ["BACKEND"], optional: [] },
  async run(ctx) {
    await follow(ctx, ctx.positionals[0]!, ["terminated"]);
    return 0;
  },
};
