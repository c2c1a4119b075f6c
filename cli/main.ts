/**
 * `deno task plane <command>`: the one command line of decisions.md §4. Usage mistakes exit 2 and
 * fatal errors exit 1, each with one line on stderr (Plane exited 0 on fatal errors; we do not).
 */
import { parseArgs } from "node:util";
import { CONTROLLER_HELP, parseControllerFlags, runController } from "./controller_command.ts";
import { openDatabase } from "./open_database.ts";
import { DRONE_HELP, parseDroneFlags, startDrone } from "./drone_command.ts";
import { DEV_HELP, devCommand } from "./dev_command.ts";
import { parseProxyFlags, PROXY_HELP, startProxy } from "./proxy_command.ts";
import { DNS_HELP, parseDnsFlags, startDns } from "./dns_command.ts";
import { PUT_DUMMY_DNS_HELP, runPutDummyDns } from "./put_dummy_dns_command.ts";
import { print, printError } from "./output.ts";
import { ADMIN_HELP, isAdminCommand, runAdminCommand } from "./admin_command.ts";
import { UsageError, usageErrorFrom } from "./usage_error.ts";
import { runMigrations } from "../controller/db/mod.ts";
import { createLogger, PLANE_HASH, PLANE_VERSION } from "../shared/mod.ts";

const MAIN_HELP = `Usage: plane <command> [flags]

Commands:
  controller   run the controller (HTTP API, drone and proxy sockets)
  dev          run a whole local cluster (controller, drone, proxy, example backend)
  drone        run a drone (backends as Docker containers or local processes)
  proxy        run a proxy (routes connection URLs to backends)
  dns          run the DNS server answering proxies' ACME DNS-01 challenges
  migrate      apply database migrations and exit
  version      print the version
  help         show help for a command

Admin commands (talk to a controller; "plane admin <command>" works too):
  connect          get or create a backend and print its URL (--wait: follow its statuses)
  terminate        stop a backend (soft, or --hard)
  drain, undrain   stop or resume scheduling on a drone
  status           the controller's version, or a backend's record
  cluster-state    a cluster's drones and proxies
  backend-status   follow a backend's statuses until it is terminated
  logs             a backend's output
  list             a cluster's backends
  put-dummy-dns    set a dummy ACME TXT value for a cluster (checks the DNS wiring)

Run "plane <command> --help" for a command's flags.
`;

const MIGRATE_HELP = `Usage: plane migrate --db URL|DIR

Applies the database migrations and exits (the controller also applies them at start).

Flags:
  --db URL|DIR   postgres:// URL, or a directory for embedded PGlite [DATABASE_URL]
  -h, --help     show this help
`;

const VERSION_HELP = `Usage: plane version

Prints the Plane protocol version and hash this implementation speaks.
`;

const HELP: Record<string, string> = {
  controller: CONTROLLER_HELP,
  drone: DRONE_HELP,
  dev: DEV_HELP,
  proxy: PROXY_HELP,
  dns: DNS_HELP,
  "put-dummy-dns": PUT_DUMMY_DNS_HELP,
  migrate: MIGRATE_HELP,
  version: VERSION_HELP,
  ...ADMIN_HELP,
};

/** Runs `work` until it ends; SIGINT or SIGTERM aborts its signal (a clean shutdown). */
async function untilSignal(work: (signal: AbortSignal) => Promise<void>): Promise<void> {
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    await work(abort.signal);
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

/** A started component runs until a signal stops it (or it stops by itself). */
async function runUntilSignal(running: { done: Promise<void>; stop(): Promise<void> }) {
  await untilSignal(async (signal) => {
    signal.addEventListener("abort", () => void running.stop(), { once: true });
    await running.done;
  });
}

async function controllerCommand(args: string[]): Promise<void> {
  const parsed = parseControllerFlags(args, (name) => Deno.env.get(name));
  if (parsed.kind === "help") return print(CONTROLLER_HELP);
  await untilSignal((signal) => runController(parsed.config, { signal }));
}

async function droneCommand(args: string[]): Promise<void> {
  const parsed = parseDroneFlags(args, (name) => Deno.env.get(name));
  if (parsed.kind === "help") return print(DRONE_HELP);
  await runUntilSignal(await startDrone(parsed.config));
}

async function proxyCommand(args: string[]): Promise<void> {
  const parsed = parseProxyFlags(args, (name) => Deno.env.get(name));
  if (parsed.kind === "help") return print(PROXY_HELP);
  await runUntilSignal(await startProxy(parsed.config));
}

async function dnsCommand(args: string[]): Promise<void> {
  const parsed = parseDnsFlags(args, (name) => Deno.env.get(name));
  if (parsed.kind === "help") return print(DNS_HELP);
  await runUntilSignal(await startDns(parsed.config));
}

async function migrateCommand(args: string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: { db: { type: "string" }, help: { type: "boolean", short: "h" } },
    }));
  } catch (err) {
    throw usageErrorFrom(err, "migrate");
  }
  if (values.help) return print(MIGRATE_HELP);
  const spec = values.db ?? Deno.env.get("DATABASE_URL");
  if (!spec) throw new UsageError("A database is required: pass --db URL or set DATABASE_URL");
  const log = createLogger("migrate");
  const db = await openDatabase(spec, { log });
  try {
    const result = await runMigrations(db);
    print(
      `Applied ${result.applied.length} migration(s)` +
        (result.applied.length > 0 ? `: ${result.applied.join(", ")}` : "") +
        `; ${result.alreadyApplied.length} already applied`,
    );
  } finally {
    await db.close();
  }
}

function versionCommand(args: string[]): void {
  try {
    const { values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: { help: { type: "boolean", short: "h" } },
    });
    if (values.help) return print(VERSION_HELP);
  } catch (err) {
    throw usageErrorFrom(err, "version");
  }
  print(`plane ${PLANE_VERSION} (hash ${PLANE_HASH}), deno ${Deno.version.deno}`);
}

function helpCommand(args: string[]): void {
  const [topic, ...rest] = args;
  if (rest.length > 0) throw new UsageError(`Unexpected argument "${rest[0]}" for "plane help"`);
  if (topic === undefined || topic === "--help" || topic === "-h") return print(MAIN_HELP);
  const text = HELP[topic];
  if (!text) throw new UsageError(`Unknown command "${topic}": run "plane help" for the list`);
  print(text);
}

/** Runs one command line; resolves to the process exit status. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case "controller":
        await controllerCommand(rest);
        return 0;
      case "drone":
        await droneCommand(rest);
        return 0;
      case "dev":
        await devCommand(rest);
        return 0;
      case "proxy":
        await proxyCommand(rest);
        return 0;
      case "dns":
        await dnsCommand(rest);
        return 0;
      case "put-dummy-dns":
        return await runPutDummyDns(rest, (name) => Deno.env.get(name));
      case "migrate":
        await migrateCommand(rest);
        return 0;
      case "version":
      case "--version":
        versionCommand(rest);
        return 0;
      case "help":
      case "--help":
      case "-h":
        helpCommand(command === "help" ? rest : []);
        return 0;
      case undefined:
        printError(MAIN_HELP);
        return 2;
      default:
        if (isAdminCommand(command)) return await runAdminCommand(command!, rest);
        throw new UsageError(`Unknown command "${command}": run "plane help" for the list`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      printError(`error: ${err.message}`);
      return 2;
    }
    const message = err instanceof Error ? err.message : String(err);
    printError(`error: ${message.split("\n")[0]}`);
    return 1;
  }
}

if (import.meta.main) {
  // Exit explicitly: connections the 2 s shutdown limit cut short must not keep us alive.
  Deno.exit(await main(Deno.args));
}
