/** `plane logs BACKEND`: the backend's log lines, followed unless `--no-follow`. */
import { formatLogLine } from "../admin_format.ts";
import { type AdminCommandSpec, emit } from "./context.ts";

export const logsCommand: AdminCommandSpec = {
  options: { "no-follow": { type: "boolean" } },
  positionals: { required: ["BACKEND"], optional: [] },
  async run(ctx) {
    const lines = ctx.client.logs(ctx.positionals[0]!, {
      follow: ctx.values["no-follow"] !== true,
    });
    for await (const line of lines) emit(ctx, line, () => formatLogLine(line));
    return 0;
  },
};
