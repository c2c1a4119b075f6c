/**
 * The admin commands (plane-0.5.md §11.1 `plane admin`, decisions.md §4): `connect`,
 * `terminate`, `drain`, `undrain`, `status`, `cluster-state`, `backend-status`, `logs` and `list`,
 * all through `shared/client.ts`. Each also runs as `plane admin [--controller URL] <command> …`,
 * Plane's spelling. This file parses and dispatches; each command is one file in `cli/admin/`.
 *
 * Human-readable output by default, `--json` for scripts (one JSON value per line). A refusal
 * from the controller prints one line with its message, HTTP status and error id and exits 1;
 * a usage mistake throws `UsageError` (exit 2).
 */
import { parseArgs } from "node:util";
import { createPlaneClient, type PlaneClient } from "../shared/mod.ts";
import { formatAdminError } from "./admin_format.ts";
import { print, printError } from "./output.ts";
import {
  ADMIN_OVERVIEW,
  DEFAULT_CONTROLLER_URL,
  DEFAULT_MAX_IDLE_SECONDS,
  HELP_TEXT,
} from "./admin_help.ts";
import { UsageError, usageErrorFrom } from "./usage_error.ts";
import {
  type AdminCommandSpec,
  type AdminContext,
  type AdminIo,
  type OptionSpec,
  stringValue,
  type Values,
} from "./admin/context.ts";
import { connectCommand } from "./admin/connect.ts";
import { terminateCommand } from "./admin/terminate.ts";
import { drainCommand, undrainCommand } from "./admin/drain.ts";
import { statusCommand } from "./admin/status.ts";
import { clusterStateCommand } from "./admin/cluster_state.ts";
import { backendStatusCommand } from "./admin/backend_status.ts";
import { logsCommand } from "./admin/logs.ts";
import { listCommand } from "./admin/list.ts";

export type { AdminIo };

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

const DEFAULT_IO: AdminIo = {
  env: (name) => Deno.env.get(name),
  out: print,
  err: printError,
};

const COMMON_OPTIONS = {
  controller: { type: "string" },
  "api-key": { type: "string" },
  json: { type: "boolean" },
} as const satisfies OptionSpec;

const COMMANDS: Record<AdminCommand, AdminCommandSpec> = {
  connect: connectCommand,
  terminate: terminateCommand,
  drain: drainCommand,
  undrain: undrainCommand,
  status: statusCommand,
  "cluster-state": clusterStateCommand,
  "backend-status": backendStatusCommand,
  logs: logsCommand,
  list: listCommand,
};

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
      options: {
        ...COMMON_OPTIONS,
        ...COMMANDS[command].options,
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    throw usageErrorFrom(err, command);
  }
  const values = parsed.values as Values;
  if (values.help) return "help";
  const { required, optional } = COMMANDS[command].positionals;
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
  const ctx: AdminContext = {
    client,
    io,
    json: parsed.values.json === true,
    now: io.now ?? (() => Date.now()),
    values: parsed.values,
    positionals: parsed.positionals,
  };
  try {
    return await COMMANDS[admin].run(ctx);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    io.err(formatAdminError(err, client.controllerUrl));
    return 1;
  }
}
