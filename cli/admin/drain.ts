/** `plane drain` and `plane undrain` (plane-0.5.md §11.1): stop or resume scheduling on a drone. */
import { UsageError } from "../usage_error.ts";
import { type AdminCommandSpec, type AdminContext, emit, stringValue } from "./context.ts";

async function setDraining(ctx: AdminContext, draining: boolean): Promise<number> {
  const command = draining ? "drain" : "undrain";
  const cluster = stringValue(ctx.values, "cluster");
  const drone = stringValue(ctx.values, "drone");
  if (!cluster || !drone) {
    throw new UsageError(
      `"plane ${command}" needs --cluster NAME and --drone DRONE: see "plane ${command} --help"`,
    );
  }
  const result = draining
    ? await ctx.client.drain(cluster, drone)
    : await ctx.client.undrain(cluster, drone);
  emit(ctx, result, () => {
    if (draining) {
      return result.updated
        ? `Drone ${drone} is draining: no new backends will be scheduled on it`
        : `Drone ${drone} was already draining`;
    }
    return result.updated
      ? `Drone ${drone} is schedulable again`
      : `Drone ${drone} was not draining`;
  });
  return 0;
}

const options = { cluster: { type: "string" }, drone: { type: "string" } } as const;

export const drainCommand: AdminCommandSpec = {
  options,
  positionals: { required: [], optional: [] },
  run: (ctx) => setDraining(ctx, true),
};

export const undrainCommand: AdminCommandSpec = {
  options,
  positionals: { required: [], optional: [] },
  run: (ctx) => setDraining(ctx, false),
};
