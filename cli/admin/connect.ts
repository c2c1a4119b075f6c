/** `plane connect` (plane-0.5.md §11.1): get or create a backend, optionally waiting for ready. */
import type { z } from "zod";
import type { BackendStatusStreamEntry, ConnectRequest } from "../../shared/mod.ts";
import { formatConnect } from "../admin_format.ts";
import { DEFAULT_MAX_IDLE_SECONDS } from "../admin_help.ts";
import { UsageError } from "../usage_error.ts";
import {
  type AdminCommandSpec,
  emit,
  follow,
  positiveInteger,
  stringValue,
  type Values,
} from "./context.ts";

/** The `ConnectRequest` Plane's `admin connect` builds from these flags (plane-0.5.md §11.1). */
export function buildConnectRequest(values: Values): z.input<typeof ConnectRequest> {
  const image = stringValue(values, "image");
  if (!image) {
    throw new UsageError(`"plane connect" needs --image IMAGE: see "plane connect --help"`);
  }
  if (values.wait && values.immediate) {
    throw new UsageError(`--wait and --immediate exclude each other: see "plane connect --help"`);
  }
  const executable: Record<string, unknown> = { image };
  const mount = stringValue(values, "mount");
  if (mount !== undefined) {
    executable.mount = mount === "true" ? true : mount === "false" ? false : mount;
  }
  const idle = stringValue(values, "max-idle-seconds");
  const spawn: z.input<typeof ConnectRequest>["spawn_config"] = {
    executable,
    "max_idle_seconds": idle === undefined
      ? DEFAULT_MAX_IDLE_SECONDS
      : positiveInteger("max-idle-seconds", idle),
  };
  const cluster = stringValue(values, "cluster");
  if (cluster !== undefined) spawn.cluster = cluster;
  const id = stringValue(values, "id");
  if (id !== undefined) spawn.id = id;
  const pool = stringValue(values, "pool");
  if (pool !== undefined) spawn.pool = pool;
  const subdomain = stringValue(values, "subdomain");
  if (subdomain !== undefined) spawn.subdomain = subdomain;
  if (values["static-token"]) spawn["use_static_token"] = true;
  const request: z.input<typeof ConnectRequest> = { "spawn_config": spawn };
  const key = stringValue(values, "key");
  if (key !== undefined) request.key = { name: key };
  return request;
}

/** Why `connect --wait` gave up (issue 12): the termination reason and error, when known. */
export function notReadyText(backendId: string, last: BackendStatusStreamEntry | null): string {
  const why = [
    last?.termination_reason ? `reason ${last.termination_reason}` : "",
    last?.error ?? "",
  ].filter((part) => part !== "");
  const tail = why.length > 0
    ? `: ${why.join(": ")}`
    : `; see "plane logs ${backendId}" and the drone's log`;
  return `backend ${backendId} terminated before it was ready${tail}`;
}

export const connectCommand: AdminCommandSpec = {
  options: {
    image: { type: "string" },
    cluster: { type: "string" },
    key: { type: "string" },
    id: { type: "string" },
    pool: { type: "string" },
    "max-idle-seconds": { type: "string" },
    "static-token": { type: "boolean" },
    mount: { type: "string" },
    subdomain: { type: "string" },
    wait: { type: "boolean" },
    immediate: { type: "boolean" },
  },
  positionals: { required: [], optional: [] },
  async run(ctx) {
    const request = buildConnectRequest(ctx.values);
    const response = await ctx.client.connect(request);
    emit(ctx, response, () => formatConnect(response));
    if (!ctx.values.wait) return 0;
    const last = await follow(ctx, response.backend_id, ["ready"]);
    if (last?.status === "ready") return 0;
    ctx.io.err(`error: ${notReadyText(response.backend_id, last)}`);
    return 1;
  },
};
