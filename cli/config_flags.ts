import { parseArgs } from "node:util";
import type { z } from "zod";
import { UsageError, usageErrorFrom } from "./usage_error.ts";
/**
 * One row per command-line flag of a long-running role (`controller`, `drone`, `proxy`): the
 * flag, the config field it sets, its environment variable and what it means. Each command's
 * table drives its `parseArgs` options and is the README's configuration reference (rendered by
 * `_tools/config_docs.ts`; defaults come from the zod schemas, never from here).
 */

export interface ConfigFlag<Field extends string = string> {
  /** The long flag, e.g. `--controller-url`. */
  flag: `--${string}`;
  /** Placeholder for the flag's value, e.g. `URL`; absent for a switch (boolean flag). */
  value?: string;
  /** The flag may be given more than once; each value is collected. */
  repeatable?: true;
  /** The config schema field the flag sets. */
  field: Field;
  /** Environment variable read for the same field when the flag is absent (flags win). */
  env?: string;
  /** How the variable's value differs from the flag's, e.g. `comma-separated`. */
  envNote?: string;
  /**
   * What leaving the field unset means, for fields the schema leaves `undefined` (a default
   * computed at run time, or a feature being off). Never a schema default typed again.
   */
  unset?: string;
  /** One line for the README table; Markdown. */
  meaning: string;
}

type OptionOf<F> = F extends { value: string }
  ? F extends { repeatable: true } ? { type: "string"; multiple: true } : { type: "string" }
  : { type: "boolean" };

/** `node:util` `parseArgs` options for a flag table (typed, so `values` stays precise). */
export type ParseOptionsOf<T extends readonly ConfigFlag[]> =
  & { [F in T[number] as F["flag"] extends `--${infer Name}` ? Name : never]: OptionOf<F> }
  & { help: { type: "boolean"; short: "h" } };

/** The `parseArgs` options accepting exactly the table's flags, plus `-h`/`--help`. */
export function parseOptionsOf<const T extends readonly ConfigFlag[]>(
  flags: T,
): ParseOptionsOf<T> {
  const options: Record<string, { type: "string" | "boolean"; multiple?: true; short?: "h" }> = {};
  for (const row of flags) {
    const name = row.flag.slice(2);
    options[name] = row.value === undefined
      ? { type: "boolean" }
      : row.repeatable
      ? { type: "string", multiple: true }
      : { type: "string" };
  }
  options.help = { type: "boolean", short: "h" };
  return options as ParseOptionsOf<T>;
}

/** What a role's `parse*Flags` gives: `--help` asked for, or the config to run with. */
export type FlagsResult<Config> = { kind: "help" } | { kind: "run"; config: Config };

/**
 * Parses `args` strictly against the table's flags; a mistake becomes a one-line `UsageError`
 * naming `plane <command> --help`.
 */
export function parseFlagsOf<const T extends readonly ConfigFlag[]>(
  args: string[],
  flags: T,
  command: string,
) {
  try {
    return parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: parseOptionsOf(flags),
    })
      .values;
  } catch (err) {
    throw usageErrorFrom(err, command);
  }
}

/**
 * A whole-number flag's value (ports, counts), or undefined when the flag is absent. Checked here
 * rather than by the schema: `Number("")` is 0 and `Number("1e3")` is 1000, neither what was
 * typed.
 */
export function wholeNumberFlag(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) {
    throw new UsageError(`Invalid --${flag}: expected a whole number, got "${raw}"`);
  }
  return Number(raw);
}

/**
 * One line for a config that failed its schema, in the words of the command line: a missing
 * required field names its flag and variable (`--cluster is required (or PLANE_CLUSTER)`,
 * issue 12) instead of zod's "expected string, received undefined"; a bad value names its flag.
 */
export function describeFlagError(
  error: z.ZodError,
  flags: readonly ConfigFlag[],
  input: Readonly<Record<string, unknown>>,
): string {
  const issue = error.issues[0];
  if (!issue) return "Invalid configuration";
  const field = issue.path[0];
  if (field === undefined) return issue.message;
  const row = flags.find((r) => r.field === field);
  const name = row?.flag ?? issue.path.map(String).join(".");
  // zod's own wording for an absent value; a schema's custom message says more, keep it.
  const missing = issue.code === "invalid_type" && issue.path.length === 1 &&
    input[String(field)] === undefined && issue.message.startsWith("Invalid input");
  if (missing) return `${name} is required${row?.env ? ` (or ${row.env})` : ""}`;
  if (issue.message.includes("--")) return issue.message;
  return `Invalid ${name}: ${issue.message}`;
}
