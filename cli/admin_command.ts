/**
 * The admin commands (plane-0.5.md §11.1 `plane admin`, decisions.md §4): `connect`,
 * `terminate`, `drain`, `undrain`, `status`, `cluster-state`, `backend-status`, `logs` and `list`,
 * all through `shared/client.ts`. Each also runs as `plane admin [--controller URL] <command> …`,
 * Plane's spelling.
 *
 * Human-readable output by default, `--json` for scripts (one JSON value per line). A refusal
 * from the controller prints one line with its message, HTTP status and error id and exits 1;
 * a usage mistake throws `UsageError` (exit 2).
 */
import { parseArgs } from "node:util";
import type { z } from "zod";
import { createPlaneClient, type PlaneClient } from "../shared/client.ts";
import type { ConnectRequest } from "../shared/api.ts";
import { BackendStatus, type BackendStatusStreamEntry } from "../shared/backend_state.ts";
import { PLANE_HASH, PLANE_VERSION } from "../shared/protocol.ts";
import {
  formatAdminError,
  formatBackendInfo,
  formatBackendList,
  formatClusterState,
  formatConnect,
  formatControllerStatus,
  formatLogLine,
  formatStatusEntry,
} from "./admin_format.ts";
import { print, printError } from "./output.ts";
import {
  ADMIN_OVERVIEW,
  DEFAULT_CONTROLLER_URL,
  DEFAULT_MAX_IDLE_SECONDS,
  HELP_TEXT,
} from "./admin_help.ts";
import { UsageError, usageErrorFrom } from "./usage_error.ts";

/** The environment variables the admin commands read (flags win). */
export const ADMIN_ENV = {
  controllerUrl: "PLANE_CONTROLLER_URL",
  apiKey: "PLANE_API_KEY",
} as const;
export { DEFAULT_CONTROLLER_URL, DEFAULT_MAX_IDLE_SECONDS };

export type AdminCommand = keyof typeof HELP_TEXT;

/** Help text of every admin command (and of `admin`), for `plane help <command>`. */
export const ADMIN_HELP: Record<string, string> = { ...HELP_TEXT, admin: ADMIN_OVERVIEW };

export function isAdminCommand(name: string | undefined): boolean {
  return name === "admin" || (name !== undefined && Object.hasOwn(HELP_TEXT, name));
}

/** Where an admin command reads its environment and writes its output. */
export interface AdminIo {
  env(name: string): string | undefined;
  out(text: string): void;
  err(text: string): void;
  fetch?: typeof fetch;
  now?(): number;
}

const DEFAULT_IO: AdminIo = {
  env: (name) => Deno.env.get(name),
  out: print,
  err: printError,
};

type OptionSpec = Record<string, { type: "string" | "boolean"; multiple?: boolean }>;

const COMMON_OPTIONS = {
  controller: { type: "string" },
  "api-key": { type: "string" },
  json: { type: "boolean" },
} as const satisfies OptionSpec;

const OPTIONS = {
  connect: {
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
  terminate: {
    hard: { type: "boolean" },
    wait: { type: "boolean" },
    immediate: { type: "boolean" },
  },
  drain: { cluster: { type: "string" }, drone: { type: "string" } },
  undrain: { cluster: { type: "string" }, drone: { type: "string" } },
  status: {},
  "cluster-state": {},
  "backend-status": {},
  logs: { "no-follow": { type: "boolean" } },
  list: {
    status: { type: "string", multiple: true },
    limit: { type: "string" },
    cursor: { type: "string" },
  },
} as const satisfies Record<AdminCommand, OptionSpec>;

/** Positional arguments: required names, then optional ones. */
const POSITIONALS: Record<AdminCommand, { required: string[]; optional: string[] }> = {
  connect: { required: [], optional: [] },
  terminate: { required: ["BACKEND"], optional: [] },
  drain: { required: [], optional: [] },
  undrain: { required: [], optional: [] },
  status: { required: [], optional: ["BACKEND"] },
  "cluster-state": { required: ["CLUSTER"], optional: [] },
  "backend-status": { required: ["BACKEND"], optional: [] },
  logs: { required: ["BACKEND"], optional: [] },
  list: { required: ["CLUSTER"], optional: [] },
};

type Values = Record<string, string | boolean | string[] | undefined>;

interface Parsed {
  values: Values;
  positionals: string[];
}

/** Parses one admin command's arguments; throws `UsageError` naming the command's help. */
export function parseAdminArgs(command: AdminCommand, args: string[]): Parsed | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: { ...COMMON_OPTIONS, ...OPTIONS[command], help: { type: "boolean", short: "h" } },
    });
  } catch (err) {
    throw usageErrorFrom(err, command);
  }
  const values = parsed.values as Values;
  if (values.help) return "help";
  const { required, optional } = POSITIONALS[command];
  const help = `see "plane ${command} --help"`;
  if (parsed.positionals.length < required.length) {
    const missing = required[parsed.positionals.length]!;
    throw new UsageError(`"plane ${command}" needs ${missing}: ${help}`);
  }
  const extra = parsed.positionals[required.length + optional.length];
  if (extra !== undefined) {
    throw new UsageError(`Unexpected argument "${extra}" for "plane ${command}": ${help}`);
  }
  return { values, positionals: parsed.positionals };
}

function stringValue(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

function positiveInteger(flag: string, text: string, max = 2_147_483_647): number {
  const n = /^\d{1,10}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= max)) {
    throw new UsageError(`Invalid --${flag} "${text}": expected a whole number from 1 to ${max}`);
  }
  return n;
}

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

interface Context {
  client: PlaneClient;
  io: AdminIo;
  json: boolean;
  now(): number;
  values: Values;
  positionals: string[];
}

function emit(ctx: Context, value: unknown, text: () => string) {
  ctx.io.out(ctx.json ? JSON.stringify(value) : text());
}

/**
 * Prints statuses as they happen until one in `stop` (or `terminated`); resolves with the
 * last one. `after` skips statuses up to and including it.
 */
async function follow(
  ctx: Context,
  backendId: string,
  stop: readonly string[],
  after?: BackendStatusStreamEntry["status"],
): Promise<BackendStatusStreamEntry | null> {
  let last: BackendStatusStreamEntry | null = null;
  for await (const entry of ctx.client.statusStream(backendId, { lastEventId: after })) {
    last = entry;
    emit(ctx, entry, () => formatStatusEntry(entry));
    if (stop.includes(entry.status)) break;
  }
  return last;
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

async function connect(ctx: Context): Promise<number> {
  const request = buildConnectRequest(ctx.values);
  const response = await ctx.client.connect(request);
  emit(ctx, response, () => formatConnect(response));
  if (!ctx.values.wait) return 0;
  const last = await follow(ctx, response.backend_id, ["ready"]);
  if (last?.status === "ready") return 0;
  ctx.io.err(`error: ${notReadyText(response.backend_id, last)}`);
  return 1;
}

async function terminate(ctx: Context): Promise<number> {
  const backendId = ctx.positionals[0]!;
  if (ctx.values.wait && ctx.values.immediate) {
    throw new UsageError(`--wait and --immediate exclude each other: see "plane terminate --help"`);
  }
  const hard = ctx.values.hard === true;
  // With --wait, the status is read before the request: read after it, a fast drone may already
  // be terminating, and the output would depend on the race.
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
}

async function drain(ctx: Context, draining: boolean): Promise<number> {
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

async function status(ctx: Context): Promise<number> {
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
}

async function clusterState(ctx: Context): Promise<number> {
  const cluster = ctx.positionals[0]!;
  const state = await ctx.client.clusterState(cluster);
  emit(ctx, state, () => formatClusterState(cluster, state));
  return 0;
}

async function backendStatus(ctx: Context): Promise<number> {
  await follow(ctx, ctx.positionals[0]!, ["terminated"]);
  return 0;
}

async function logs(ctx: Context): Promise<number> {
  const lines = ctx.client.logs(ctx.positionals[0]!, { follow: ctx.values["no-follow"] !== true });
  for await (const line of lines) emit(ctx, line, () => formatLogLine(line));
  return 0;
}

async function list(ctx: Context): Promise<number> {
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
}

const RUN: Record<AdminCommand, (ctx: Context) => Promise<number>> = {
  connect,
  terminate,
  drain: (ctx) => drain(ctx, true),
  undrain: (ctx) => drain(ctx, false),
  status,
  "cluster-state": clusterState,
  "backend-status": backendStatus,
  logs,
  list,
};

/** `plane admin [--controller URL] [--api-key KEY] [--json] <command> …` → command + args. */
function unwrapAdmin(args: string[]): { command: string; args: string[] } | "help" {
  const globals: string[] = [];
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "-h" || arg === "--help") return "help";
    if (!arg.startsWith("-")) break;
    const name = arg.split("=")[0];
    if (name === "--json") globals.push(arg);
    else if (name === "--controller" || name === "--api-key") {
      globals.push(arg);
      if (!arg.includes("=")) {
        const value = args[++i];
        if (value === undefined) {
          throw new UsageError(
            `Flag ${arg} of "plane admin" needs a value: see "plane admin --help"`,
          );
        }
        globals.push(value);
      }
    } else throw new UsageError(`Unknown flag ${arg} for "plane admin": see "plane admin --help"`);
  }
  const command = args[i];
  if (command === undefined) return "help";
  if (!Object.hasOwn(HELP_TEXT, command)) {
    throw new UsageError(`Unknown admin command "${command}": see "plane admin --help"`);
  }
  return { command, args: [...args.slice(i + 1), ...globals] };
}

/**
 * Runs one admin command (or `admin …`); resolves to the exit status. Throws `UsageError` for
 * command-line mistakes; prints controller refusals and unreachable controllers itself.
 */
export async function runAdminCommand(
  name: string,
  args: string[],
  io: AdminIo = DEFAULT_IO,
): Promise<number> {
  let command = name;
  if (name === "admin") {
    const unwrapped = unwrapAdmin(args);
    if (unwrapped === "help") {
      io.out(ADMIN_OVERVIEW);
      return 0;
    }
    ({ command, args } = unwrapped);
  }
  if (!Object.hasOwn(HELP_TEXT, command)) {
    throw new UsageError(`Unknown command "${command}": run "plane help" for the list`);
  }
  const admin = command as AdminCommand;
  const parsed = parseAdminArgs(admin, args);
  if (parsed === "help") {
    io.out(HELP_TEXT[admin]);
    return 0;
  }
  const controllerUrl = stringValue(parsed.values, "controller") ??
    (io.env(ADMIN_ENV.controllerUrl) || DEFAULT_CONTROLLER_URL);
  const apiKey = stringValue(parsed.values, "api-key") ?? (io.env(ADMIN_ENV.apiKey) || undefined);
  let client: PlaneClient;
  try {
    client = createPlaneClient({
      controllerUrl,
      apiKey,
      ...(io.fetch ? { fetch: io.fetch } : {}),
    });
  } catch {
    throw new UsageError(
      `Invalid controller URL "${controllerUrl}": expected http(s)://HOST[:PORT]`,
    );
  }
  const ctx: Context = {
    client,
    io,
    json: parsed.values.json === true,
    now: io.now ?? (() => Date.now()),
    values: parsed.values,
    positionals: parsed.positionals,
  };
  try {
    return await RUN[admin](ctx);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    io.err(formatAdminError(err, client.controllerUrl));
    return 1;
  }
}
