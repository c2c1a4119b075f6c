/**
 * The service map (jamsocket-api.md §11 item 2, the equivalent of Plane 0.3's `services`):
 * `"account/service[/environment]"` → the image and default spawn settings, so a Jamsocket
 * connect names a service, never an image. Resolution is a pure function.
 */
import { z } from "zod";
import { ClusterName } from "../../shared/mod.ts";

/** Account, service and environment names: what fits one path segment and a key namespace. */
const NAME = "[A-Za-z0-9_.-]{1,64}";
export const SERVICE_NAME = new RegExp(`^${NAME}$`);
const SERVICE_PATH = new RegExp(`^${NAME}/${NAME}(?:/${NAME})?$`);

/**
 * The idle limit of a Jamsocket spawn that names none (jamsocket-api.md §3.1: "default is 300").
 */
export const DEFAULT_MAX_IDLE_SECONDS = 300;

/** jamsocket-api.md §8: names a user's `env` may not set; the platform sets them. */
export function reservedEnvName(name: string): boolean {
  return name === "PORT" || name.startsWith("SESSION_BACKEND_") || name.startsWith("JAMSOCKET_");
}

export const RESERVED_ENV_DESCRIPTION = "PORT, SESSION_BACKEND_* and JAMSOCKET_*";

const Seconds = z.number().int().min(1).max(2_147_483_647);

const EnvMap = z.record(z.string(), z.string()).superRefine((env, ctx) => {
  for (const name of Object.keys(env)) {
    if (reservedEnvName(name)) {
      ctx.addIssue({
        code: "custom",
        message: `Environment variable "${name}" is reserved (${RESERVED_ENV_DESCRIPTION})`,
      });
    }
  }
});

export const ServiceConfig = z.object({
  /** The image a spawn runs (a Docker reference, or a name a local-process drone maps). */
  image: z.string().min(1, "A service needs an image"),
  /**
   * `spawn.tag` → image; a tag not listed here replaces the tag of `image` (jamsocket-api.md §3.1
   * `tag`).
   */
  tags: z.record(z.string(), z.string().min(1)).default({}),
  /** Plane cluster to spawn on; the controller's default cluster when absent. */
  cluster: ClusterName.optional(),
  pool: z.string().max(255).default(""),
  max_idle_seconds: Seconds.default(DEFAULT_MAX_IDLE_SECONDS),
  lifetime_limit_seconds: Seconds.optional(),
  /** Environment given to every backend of the service; the spawn's `env` wins. */
  env: EnvMap.default({}),
  /** Further executable fields passed to the drone (`pull_policy`, `network_name`, …). */
  executable: z.record(z.string(), z.unknown()).default({}),
  /** At most this many non-terminated backends of this service (429 beyond). */
  max_backends: z.number().int().positive().optional(),
  use_static_token: z.boolean().default(false),
});
export type ServiceConfig = z.infer<typeof ServiceConfig>;

export const ServiceMap = z.record(
  z.string().regex(
    SERVICE_PATH,
    "Service map keys are account/service or account/service/environment",
  ),
  ServiceConfig,
);
export type ServiceMap = z.infer<typeof ServiceMap>;

export interface ServiceRef {
  account: string;
  service: string;
  environment?: string | undefined;
}

/** A service found in the map, under its real names (never the dev placeholders). */
export interface ResolvedService {
  account: string;
  service: string;
  environment: string | null;
  config: ServiceConfig;
  /** The key namespace: keys are namespaced per service (and environment). */
  namespace: string;
}

export interface ResolveError {
  status: number;
  code: "ServiceNotFound" | "AmbiguousService" | "DevModeUnavailable";
  message: string;
}

export type ResolveResult = { ok: true; service: ResolvedService } | {
  ok: false;
  error: ResolveError;
};

/** The dev-mode placeholder for account, service and token (jamsocket-api.md §2.1). */
export const DEV_PLACEHOLDER = "-";

function pathOf(ref: ServiceRef): string {
  return [ref.account, ref.service, ...(ref.environment ? [ref.environment] : [])].join("/");
}

function found(path: string, config: ServiceConfig): ResolveResult {
  const [account, service, environment] = path.split("/") as [string, string, string?];
  return {
    ok: true,
    service: { account, service, environment: environment ?? null, config, namespace: path },
  };
}

/**
 * Finds `ref` in `map`. With `devMode`, a `-` account or service is a wildcard: an exact `-/-`
 * entry wins, otherwise the only entry matching the other names; without it, `-` is refused.
 */
export function resolveService(
  map: ServiceMap,
  ref: ServiceRef,
  options: { devMode: boolean },
): ResolveResult {
  const names = [ref.account, ref.service, ...(ref.environment ? [ref.environment] : [])];
  const wanted = pathOf(ref);
  const placeholder = ref.account === DEV_PLACEHOLDER || ref.service === DEV_PLACEHOLDER;
  if (placeholder && !options.devMode) {
    return {
      ok: false,
      error: {
        status: 403,
        code: "DevModeUnavailable",
        message: `Cannot use the dev-mode placeholder "${DEV_PLACEHOLDER}" in "${wanted}": ` +
          "it is accepted only when the controller runs without API keys on loopback",
      },
    };
  }
  const notFound: ResolveResult = {
    ok: false,
    error: {
      status: 404,
      code: "ServiceNotFound",
      message: `Service "${wanted}" is not in the controller's service map` +
        (Object.keys(map).length === 0 ? " (it is empty: pass --services FILE)" : ""),
    },
  };
  if (!names.every((n) => SERVICE_NAME.test(n))) return notFound;
  const exact = Object.hasOwn(map, wanted) ? map[wanted] : undefined;
  if (exact) return found(wanted, exact);
  if (!placeholder) return notFound;
  const matches = Object.keys(map).filter((path) => {
    const [account, service, environment] = path.split("/");
    return (ref.account === DEV_PLACEHOLDER || account === ref.account) &&
      (ref.service === DEV_PLACEHOLDER || service === ref.service) &&
      (environment ?? null) === (ref.environment ?? null);
  });
  if (matches.length === 1) return found(matches[0]!, map[matches[0]!]!);
  if (matches.length === 0) return notFound;
  return {
    ok: false,
    error: {
      status: 400,
      code: "AmbiguousService",
      message: `Cannot resolve "${wanted}": the placeholder matches ${matches.length} services ` +
        `(${matches.join(", ")}); name one, or add a "-/-" entry to the service map`,
    },
  };
}

/**
 * The image for a spawn's `tag` (jamsocket-api.md §3.1): the service's `tags` entry, else `image`
 * with its tag (or digest, for `sha256:…`) replaced; without a tag, the service's image.
 */
export function imageForTag(config: ServiceConfig, tag: string | null | undefined): string {
  if (!tag) return config.image;
  const listed = Object.hasOwn(config.tags, tag) ? config.tags[tag] : undefined;
  if (listed) return listed;
  const at = config.image.indexOf("@");
  let repository = at >= 0 ? config.image.slice(0, at) : config.image;
  const lastSlash = repository.lastIndexOf("/");
  const colon = repository.lastIndexOf(":");
  if (colon > lastSlash) repository = repository.slice(0, colon);
  return tag.startsWith("sha256:") ? `${repository}@${tag}` : `${repository}:${tag}`;
}

/** Parses a key namespace written by a Jamsocket connect back into its names, or null. */
export function parseNamespace(
  namespace: string,
): { account: string; service: string; environment: string | null } | null {
  if (!SERVICE_PATH.test(namespace)) return null;
  const [account, service, environment] = namespace.split("/") as [string, string, string?];
  return { account, service, environment: environment ?? null };
}
