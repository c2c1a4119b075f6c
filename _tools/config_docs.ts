/**
 * The README's configuration reference, generated: one Markdown table per role (controller,
 * drone, proxy) from the role's flag table (`cli/*_command.ts`: flag, field, environment
 * variable, meaning) and its zod config schema (defaults, required fields, allowed values).
 *
 * Also the metrics reference (issue 15): one row per Prometheus series the code declares
 * (`metrics_catalogue.ts`), between `<!-- metrics:start -->` and `<!-- metrics:end -->`.
 *
 * Usage: `deno task docs:config` rewrites `README.md` between `<!-- config:ROLE:start -->` and
 * `<!-- config:ROLE:end -->` and leaves the rest alone. `config_docs_test.ts` fails when the
 * README is stale.
 */
import { z } from "zod";
import { ControllerConfig } from "../controller/config.ts";
import { DroneConfig } from "../drone/config.ts";
import { ProxyConfig } from "../proxy/config.ts";
import { DnsConfig } from "../dns/config.ts";
import type { ConfigFlag } from "../cli/config_flags.ts";
import { CONTROLLER_FLAGS } from "../cli/controller_command.ts";
import { DRONE_FLAGS } from "../cli/drone_command.ts";
import { PROXY_FLAGS } from "../cli/proxy_command.ts";
import { DNS_FLAGS } from "../cli/dns_command.ts";
import { print, printError } from "../cli/output.ts";
import { ALL_METRICS } from "./metrics_catalogue.ts";
import type { MetricDef } from "../shared/metrics.ts";

export type Role = "controller" | "drone" | "proxy" | "dns";

/** Defaults the schema computes only in some configurations (e.g. the proxy's ports). */
export interface DefaultVariant {
  /** Markdown, e.g. "with `--https`". */
  when: string;
  /** Added to the role's minimal input. */
  input: Record<string, unknown>;
}

export interface RoleDocs {
  role: Role;
  flags: readonly ConfigFlag[];
  schema: z.ZodType;
  /** The smallest valid input (its required fields), parsed to read the schema's defaults. */
  minimal: Record<string, unknown>;
  variants: readonly DefaultVariant[];
}

const CLUSTER = { controllerUrl: "http://127.0.0.1:8080", cluster: "localhost:9090" };

export const ROLES: readonly RoleDocs[] = [
  {
    role: "controller",
    flags: CONTROLLER_FLAGS,
    schema: ControllerConfig,
    minimal: { db: "postgres://db/plane" },
    variants: [],
  },
  { role: "drone", flags: DRONE_FLAGS, schema: DroneConfig, minimal: CLUSTER, variants: [] },
  {
    role: "proxy",
    flags: PROXY_FLAGS,
    schema: ProxyConfig,
    minimal: CLUSTER,
    variants: [{ when: "with `--https`", input: { https: true, certPath: "cert.json" } }],
  },
  {
    role: "dns",
    flags: DNS_FLAGS,
    schema: DnsConfig,
    minimal: { controllerUrl: "http://127.0.0.1:8080", zone: "acme.example.net" },
    variants: [],
  },
];

/** The object schema's fields (through a `.transform()` pipe such as `ProxyConfig`'s). */
export function schemaFields(schema: z.ZodType): Record<string, z.ZodType> {
  if (schema instanceof z.ZodPipe) return schemaFields(schema.in as z.ZodType);
  if (schema instanceof z.ZodObject) return schema.shape as Record<string, z.ZodType>;
  throw new Error(`Not an object schema: ${schema.def.type}`);
}

/** The schema under `.default()` / `.optional()` wrappers. */
function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  while (s instanceof z.ZodDefault || s instanceof z.ZodOptional) s = s.def.innerType as z.ZodType;
  return s;
}

/** True when the field must be given (no default, not optional). */
export function isRequired(schema: z.ZodType, field: string): boolean {
  const fieldSchema = schemaFields(schema)[field];
  if (fieldSchema === undefined) throw new Error(`No field ${field}`);
  return !fieldSchema.safeParse(undefined).success;
}

/** The parsed config for the role's minimal input plus `extra`. */
export function parseMinimal(
  docs: RoleDocs,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return docs.schema.parse({ ...docs.minimal, ...extra }) as Record<string, unknown>;
}

/** Markdown inline code, safe inside a table cell. */
function code(text: string): string {
  return `\`${text.replaceAll("|", "\\|")}\``;
}

function formatValue(value: unknown): string {
  if (value === "") return "empty";
  if (Array.isArray(value) && value.length === 0) return "none";
  if (typeof value === "object" && value !== null && Object.keys(value).length === 0) {
    return "none";
  }
  return code(typeof value === "string" ? value : JSON.stringify(value));
}

/** The Default cell: "required", the schema's value, or what leaving it unset means. */
export function defaultCell(docs: RoleDocs, row: ConfigFlag): string {
  if (isRequired(docs.schema, row.field)) return "required";
  const base = parseMinimal(docs)[row.field];
  const parts = [base === undefined ? row.unset ?? "none" : formatValue(base)];
  for (const variant of docs.variants) {
    if (row.field in variant.input) continue;
    const value = parseMinimal(docs, variant.input)[row.field];
    if (value === undefined || JSON.stringify(value) === JSON.stringify(base)) continue;
    const text = `${formatValue(value)} ${variant.when}`;
    if (base === undefined && row.unset === undefined) parts[0] = text;
    else parts.push(text);
  }
  return parts.join("; ");
}

function meaningCell(docs: RoleDocs, row: ConfigFlag): string {
  const inner = unwrap(schemaFields(docs.schema)[row.field]!);
  if (!(inner instanceof z.ZodEnum)) return row.meaning;
  const options = (inner.options as string[]).map(code);
  return `${row.meaning}: ${options.slice(0, -1).join(", ")} or ${options.at(-1)}`;
}

function flagCell(row: ConfigFlag): string {
  const flag = code(row.value === undefined ? row.flag : `${row.flag} ${row.value}`);
  return row.repeatable ? `${flag} (repeatable)` : flag;
}

function envCell(row: ConfigFlag): string {
  if (row.env === undefined) return "—";
  return row.envNote === undefined ? code(row.env) : `${code(row.env)} (${row.envNote})`;
}

/** A Markdown table laid out as `deno fmt` lays it out. */
export function markdownTable(header: readonly string[], rows: readonly string[][]): string {
  const widths = header.map((h, i) => Math.max(3, h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** The role's configuration table. */
export function renderTable(docs: RoleDocs): string {
  return markdownTable(
    ["Flag", "Environment", "Default", "Meaning"],
    docs.flags.map((row) => [
      flagCell(row),
      envCell(row),
      defaultCell(docs, row),
      meaningCell(docs, row),
    ]),
  );
}

export function markers(role: Role): { start: string; end: string } {
  return { start: `<!-- config:${role}:start -->`, end: `<!-- config:${role}:end -->` };
}

/** The text between the role's markers, or an error naming the missing marker. */
export function section(readme: string, role: Role): string {
  const { start, end } = markers(role);
  const from = readme.indexOf(start);
  const to = readme.indexOf(end);
  if (from === -1 || to === -1 || to < from) {
    throw new Error(`README.md needs "${start}" followed by "${end}"`);
  }
  return readme.slice(from + start.length, to);
}

/** What belongs between a role's markers. */
export function sectionBody(docs: RoleDocs): string {
  return `\n\n${renderTable(docs)}\n\n`;
}

const SOURCE_CELL: Record<MetricDef["source"], string> = {
  controller: "controller",
  drone: "drone",
  proxy: "proxy",
  all: "all three",
};

/** The metrics reference: every series, its type, labels, endpoint and meaning. */
export function renderMetricsTable(metrics: readonly MetricDef[] = ALL_METRICS): string {
  return markdownTable(
    ["Metric", "Type", "Labels", "Endpoint", "Meaning"],
    metrics.map((m) => [
      code(m.name),
      m.type,
      m.labels.length === 0 ? "—" : m.labels.map(code).join(", "),
      SOURCE_CELL[m.source],
      m.help.replaceAll("|", "\\|"),
    ]),
  );
}

export const METRICS_MARKERS = { start: "<!-- metrics:start -->", end: "<!-- metrics:end -->" };

/** `readme` with the metrics table regenerated; an error when its markers are missing. */
export function updateMetricsSection(readme: string): string {
  const { start, end } = METRICS_MARKERS;
  const from = readme.indexOf(start);
  const to = readme.indexOf(end);
  if (from === -1 || to === -1 || to < from) {
    throw new Error(`README.md needs "${start}" followed by "${end}"`);
  }
  return readme.slice(0, from + start.length) + `\n\n${renderMetricsTable()}\n\n` +
    readme.slice(to);
}

/** `readme` with every role's table regenerated; the rest unchanged. */
export function updateReadme(readme: string, roles: readonly RoleDocs[] = ROLES): string {
  let out = readme;
  for (const docs of roles) {
    const old = section(out, docs.role);
    const { start } = markers(docs.role);
    const at = out.indexOf(start) + start.length;
    out = out.slice(0, at) + sectionBody(docs) + out.slice(at + old.length);
  }
  return out;
}

if (import.meta.main) {
  const path = new URL("../README.md", import.meta.url);
  const readme = await Deno.readTextFile(path);
  let updated: string;
  try {
    updated = updateMetricsSection(updateReadme(readme));
  } catch (err) {
    printError(`config_docs: ${(err as Error).message}`);
    Deno.exit(1);
  }
  if (updated === readme) {
    print("config_docs: README.md is up to date");
  } else {
    await Deno.writeTextFile(path, updated);
    // The tables are laid out as deno fmt would; formatting keeps `deno task check` clean
    // should that ever drift.
    const fmt = await new Deno.Command(Deno.execPath(), {
      args: ["fmt", "--quiet", "README.md"],
      cwd: new URL("..", import.meta.url),
    }).output();
    if (!fmt.success) {
      printError(`config_docs: deno fmt failed: ${new TextDecoder().decode(fmt.stderr)}`);
      Deno.exit(1);
    }
    print("config_docs: README.md configuration and metrics tables updated");
  }
}
