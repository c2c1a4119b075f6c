/**
 * What every admin command (`cli/admin/<command>.ts`) runs with: the Plane client, where output
 * goes, the parsed flags, and the few helpers they share (printing one value as text or JSON,
 * following a status stream, reading flag values).
 */
import type { BackendStatusStreamEntry, PlaneClient } from "../../shared/mod.ts";
import { formatStatusEntry } from "../admin_format.ts";
import { UsageError } from "../usage_error.ts";

/** Where an admin command reads its environment and writes its output. */
export interface AdminIo {
  env(name: string): string | undefined;
  out(text: string): void;
  err(text: string): void;
  fetch?: typeof fetch;
  now?(): number;
}

/** Flag values as `node:util` `parseArgs` returns them. */
export type Values = Record<string, string | boolean | string[] | undefined>;

export type OptionSpec = Record<string, { type: "string" | "boolean"; multiple?: boolean }>;

export interface AdminContext {
  client: PlaneClient;
  io: AdminIo;
  json: boolean;
  now(): number;
  values: Values;
  positionals: string[];
}

/** One admin command: its own flags, its positional arguments, and what it does. */
export interface AdminCommandSpec {
  options: OptionSpec;
  /** Positional arguments: required names, then optional ones. */
  positionals: { required: string[]; optional: string[] };
  /** Resolves to the exit status; throws `UsageError` for command-line mistakes. */
  run(ctx: AdminContext): Promise<number>;
}

/** Prints `value` as one JSON line with `--json`, else as `text()`. */
export function emit(ctx: AdminContext, value: unknown, text: () => string): void {
  ctx.io.out(ctx.json ? JSON.stringify(value) : text());
}

/**
 * Prints statuses as they happen until one in `stop` (or `terminated`); resolves with the
 * last one. `after` skips statuses up to and including it.
 */
export async function follow(
  ctx: AdminContext,
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

export function stringValue(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

export function positiveInteger(flag: string, text: string, max = 2_147_483_647): number {
  const n = /^\d{1,10}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= max)) {
    throw new UsageError(`Invalid --${flag} "${text}": expected a whole number from 1 to ${max}`);
  }
  return n;
}
