/**
 * Which `executable.env` names an API caller may give a backend (issue 10, finding 4).
 *
 * A deny-list, not an allow-list: apps take arbitrary configuration through the environment (as
 * Jamsocket allows), so an allow-list would break every app. What it refuses:
 *
 * - invalid names: empty, or containing `=` or NUL (`execve` cannot carry them);
 * - reserved names, set by the platform and never opted in: `SESSION_BACKEND_*` (a forged
 *   `SESSION_BACKEND_STATIC_TOKEN` would pass for Plane's) and `PLANE_*`;
 * - injection names: variables a language runtime, the dynamic loader, libc or a shell reads
 *   as code to load or run (`NODE_OPTIONS=--import=data:…` ran API-supplied code on the drone
 *   host). An operator may opt one in by its exact name.
 *
 * Matching folds case: Linux loaders read these names in upper case only, so `node_options`
 * is harmless today, but a deny-list fails open, and refusing the lower-case spelling costs an
 * app little (an operator can opt a name in). `HOME` and `TMPDIR` are allowed: they name
 * directories, load no code by themselves, and apps set them per backend. `ENV` is allowed: only
 * an interactive POSIX shell reads it (a backend's is not), and `ENV=production` is a common app
 * setting.
 */

/** Exact names (upper case) a runtime, loader or shell reads as code or a code path. */
const INJECTION_NAMES: ReadonlySet<string> = new Set([
  "NODE_OPTIONS",
  "NODE_PATH",
  "PATH",
  "PERLLIB",
  "JAVA_TOOL_OPTIONS",
  "_JAVA_OPTIONS",
  "JDK_JAVA_OPTIONS",
  "CLASSPATH",
  "BASH_ENV",
  "SHELLOPTS",
  "BASHOPTS",
  "PS4",
  "IFS",
  "GCONV_PATH",
  "LOCPATH",
  "GLIBC_TUNABLES",
]);

/** Prefixes (upper case) of injection names. */
const INJECTION_PREFIXES: readonly string[] = [
  "LD_", // the dynamic loader: LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT
  "DYLD_", // its macOS counterpart
  "MALLOC_", // glibc malloc tunables
  "BASH_FUNC_", // bash imports exported functions from these
  "DENO_",
  "BUN_",
  "PYTHON", // PYTHONPATH, PYTHONSTARTUP, PYTHONHOME, …
  "PERL5", // PERL5OPT, PERL5LIB, PERL5DB
  "RUBY", // RUBYOPT, RUBYLIB
];

/** Prefixes (upper case) the platform sets; never opted in. */
const RESERVED_PREFIXES: readonly string[] = ["SESSION_BACKEND_", "PLANE_"];

export const RESERVED_ENV_PATTERNS = "SESSION_BACKEND_* and PLANE_*";

export interface EnvPolicyOptions {
  /** Exact injection names an operator opted in. */
  allowed?: ReadonlySet<string>;
  /** How to opt a name in, ending the injection message. */
  optIn?: string;
  /**
   * False: refuse only invalid and reserved names (a Docker container is the image's own
   * sandbox, so what its runtime reads from env is the image's business). Default true.
   */
  injection?: boolean;
}

export type EnvRefusal =
  | { kind: "invalid"; message: string }
  | { kind: "reserved"; message: string }
  | { kind: "injection"; message: string };

/** True for a name the platform sets (`SESSION_BACKEND_*`, `PLANE_*`), in any case. */
export function isReservedEnvName(name: string): boolean {
  const upper = name.toUpperCase();
  return RESERVED_PREFIXES.some((prefix) => upper.startsWith(prefix));
}

/** True for a name a runtime, loader or shell reads as code, in any case. */
export function isInjectionEnvName(name: string): boolean {
  const upper = name.toUpperCase();
  return INJECTION_NAMES.has(upper) || INJECTION_PREFIXES.some((p) => upper.startsWith(p));
}

/**
 * Why `name` may not be set in a backend's environment, or null when it may. `allowed` holds
 * the exact names an operator opted in; it lifts only injection refusals.
 */
export function backendEnvRefusal(
  name: string,
  options: EnvPolicyOptions = {},
): EnvRefusal | null {
  if (name === "" || name.includes("=") || name.includes("\0")) {
    return {
      kind: "invalid",
      message: `Cannot set environment variable ${JSON.stringify(name)}: a name must be ` +
        "non-empty and contain neither '=' nor NUL",
    };
  }
  if (isReservedEnvName(name)) {
    return {
      kind: "reserved",
      message: `Cannot set environment variable "${name}": ${RESERVED_ENV_PATTERNS} are ` +
        "reserved for the platform",
    };
  }
  if (options.injection !== false && isInjectionEnvName(name) && !options.allowed?.has(name)) {
    return {
      kind: "injection",
      message: `Cannot set environment variable "${name}": a language runtime, the loader or ` +
        `a shell reads it as code to run; ${options.optIn ?? "an operator may opt it in"}`,
    };
  }
  return null;
}

/** The first refusal among `env`'s names, in insertion order, or null. */
export function firstEnvRefusal(
  env: Record<string, unknown>,
  options: EnvPolicyOptions = {},
): EnvRefusal | null {
  for (const name of Object.keys(env)) {
    const refusal = backendEnvRefusal(name, options);
    if (refusal) return refusal;
  }
  return null;
}
