/**
 * The controller's environment variables, read into `ControllerConfig` input (style.md §37).
 * Shared by `controller/main.ts` (env only, for `deno serve` and Deno Deploy) and the CLI
 * (flags override env). Values stay unvalidated here: the schema judges them and its message
 * names the variable through `describeConfigError`.
 */
import type { z } from "zod";
import type { ControllerConfigInput } from "./config.ts";
import { keyTimingsForLease } from "./key_timings.ts";

/** Config field → environment variable. */
export const CONTROLLER_ENV = {
  db: "DATABASE_URL",
  host: "PLANE_HOST",
  port: "PLANE_PORT",
  controllerUrl: "PLANE_CONTROLLER_URL",
  defaultCluster: "PLANE_DEFAULT_CLUSTER",
  cleanupMinAgeDays: "PLANE_CLEANUP_MIN_AGE_DAYS",
  forwardAuth: "PLANE_FORWARD_AUTH",
  bestOf: "PLANE_BEST_OF",
  apiKeys: "PLANE_API_KEYS",
  clusterSecret: "PLANE_CLUSTER_SECRET",
  allowInsecure: "PLANE_ALLOW_INSECURE",
  allowPathRouting: "PLANE_ALLOW_PATH_ROUTING",
  metricsPublic: "PLANE_METRICS_PUBLIC",
  logLevel: "PLANE_LOG_LEVEL",
  services: "PLANE_SERVICES",
  maxBackends: "PLANE_MAX_BACKENDS",
  allowBackendEnv: "PLANE_ALLOW_BACKEND_ENV",
  keyLeaseMs: "PLANE_KEY_LEASE_MS",
} as const satisfies Partial<Record<keyof ControllerConfigInput, string>>;

export type EnvReader = (name: string) => string | undefined;

/** A number when `text` is one, otherwise NaN so the schema reports it (never a silent default). */
export function toNumber(text: string): number {
  return text.trim() === "" ? Number.NaN : Number(text);
}

/** `true`/`1`/`yes` and `false`/`0`/`no`; anything else is left for the schema to refuse. */
export function toBoolean(text: string): boolean | string {
  const t = text.trim().toLowerCase();
  if (t === "true" || t === "1" || t === "yes") return true;
  if (t === "false" || t === "0" || t === "no" || t === "") return false;
  return text;
}

/** Parsed JSON, or the text itself when it is not JSON (the schema then refuses it). */
export function toJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Comma-separated list; empty items dropped. */
export function toList(text: string): string[] {
  return text.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

/** The config input the environment describes; unset (or empty) variables are left out. */
export function configFromEnv(get: EnvReader): Partial<ControllerConfigInput> {
  const out: Record<string, unknown> = {};
  const read = (key: keyof typeof CONTROLLER_ENV) => {
    const value = get(CONTROLLER_ENV[key]);
    return value === undefined || value === "" ? undefined : value;
  };
  for (const key of ["db", "host", "controllerUrl", "defaultCluster", "forwardAuth"] as const) {
    const value = read(key);
    if (value !== undefined) out[key] = value;
  }
  for (const key of ["port", "cleanupMinAgeDays", "bestOf", "maxBackends"] as const) {
    const value = read(key);
    if (value !== undefined) out[key] = toNumber(value);
  }
  const lease = read("keyLeaseMs");
  // The other key offsets follow the lease (renew < soft < hard < lease, plane-0.5.md §5.2).
  if (lease !== undefined) Object.assign(out, keyTimingsForLease(toNumber(lease)));
  const apiKeys = read("apiKeys");
  if (apiKeys !== undefined) out.apiKeys = toList(apiKeys);
  const allowEnv = read("allowBackendEnv");
  if (allowEnv !== undefined) out.allowBackendEnv = toList(allowEnv);
  const secret = read("clusterSecret");
  if (secret !== undefined) out.clusterSecret = secret;
  const insecure = read("allowInsecure");
  if (insecure !== undefined) out.allowInsecure = toBoolean(insecure);
  const pathRouting = read("allowPathRouting");
  if (pathRouting !== undefined) out.allowPathRouting = toBoolean(pathRouting);
  const metricsPublic = read("metricsPublic");
  if (metricsPublic !== undefined) out.metricsPublic = toBoolean(metricsPublic);
  const services = read("services");
  if (services !== undefined) out.services = toJson(services);
  const level = read("logLevel");
  if (level !== undefined) out.logLevel = level.toLowerCase();
  return out as Partial<ControllerConfigInput>;
}

/**
 * One line for the first problem the schema found, naming the flag or variable the user set:
 * `Invalid --port (PLANE_PORT): Too big: expected number to be <=65535`.
 */
export function describeConfigError(
  error: z.ZodError,
  nameOf: (field: string) => string = (field) =>
    CONTROLLER_ENV[field as keyof typeof CONTROLLER_ENV] ?? field,
): string {
  const issue = error.issues[0];
  if (!issue) return "Invalid configuration";
  const field = issue.path[0];
  if (field === undefined) return `Invalid configuration: ${issue.message}`;
  return `Invalid ${nameOf(String(field))}: ${issue.message}`;
}
