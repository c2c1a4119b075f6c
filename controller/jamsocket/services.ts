/**
 * Jamsocket's service management routes (jamsocket-api.md §3.9) answered from the service map
 * (`--services`): `service list`, `service info` and `images` read it; `service create`,
 * `update`, `delete` and `push` (`image-name`) are refused with a Jamsocket error naming the fix,
 * because the map is configuration, not state. The views are pure functions of the map.
 */
import type { ControllerContext } from "../context.ts";
import { HttpError, jsonResponse } from "../http_error.ts";
import type { Params } from "../router.ts";
import type {
  JamsocketImages,
  JamsocketServiceEnvironment,
  JamsocketServiceInfo,
  JamsocketServiceList,
} from "../../shared/mod.ts";
import { isoTime } from "./status.ts";
import { SERVICE_NAME, type ServiceConfig, type ServiceMap } from "./service_map.ts";
import { controllerFirstSeen } from "./store.ts";

/** The environment name of a service map entry without one (the CLI hides "default"). */
export const DEFAULT_ENVIRONMENT = "default";

/** The service names of `account` in the map, sorted, each once (environments folded). */
export function accountServices(map: ServiceMap, account: string): string[] {
  const names = new Set<string>();
  for (const path of Object.keys(map)) {
    const [a, service] = path.split("/");
    if (a === account && service !== undefined) names.add(service);
  }
  return [...names].sort();
}

/** A Docker-style reference split into repository and tag or digest (either may be ""). */
export function splitImage(image: string): { repository: string; tag: string; digest: string } {
  const at = image.indexOf("@");
  const digest = at >= 0 ? image.slice(at + 1) : "";
  let repository = at >= 0 ? image.slice(0, at) : image;
  let tag = "";
  const colon = repository.lastIndexOf(":");
  if (colon > repository.lastIndexOf("/")) {
    tag = repository.slice(colon + 1);
    repository = repository.slice(0, colon);
  }
  return { repository, tag, digest };
}

interface Entry {
  environment: string;
  config: ServiceConfig;
}

/** The map entries of one service: the plain entry first (as "default"), then environments. */
function serviceEntries(map: ServiceMap, account: string, service: string): Entry[] {
  const entries: Entry[] = [];
  for (const [path, config] of Object.entries(map)) {
    const [a, s, environment] = path.split("/");
    if (a !== account || s !== service) continue;
    entries.push({ environment: environment ?? DEFAULT_ENVIRONMENT, config });
  }
  return entries.sort((x, y) =>
    x.environment === DEFAULT_ENVIRONMENT
      ? -1
      : y.environment === DEFAULT_ENVIRONMENT
      ? 1
      : x.environment.localeCompare(y.environment)
  );
}

export interface ServiceViewOptions {
  /** Epoch ms the service map was loaded (the controller's start): its services' creation. */
  loadedAt: number;
  /** The cluster of entries that name none. */
  defaultCluster: string;
}

/**
 * `service info` (jamsocket-api.md §3.9): the image a spawn runs is the environment's `image_tag`
 * (its tag or digest; the whole reference when it has neither); nothing is pushed or spawned
 * through a registry of ours, so the push and spawn times are null. Null when the service is
 * unknown.
 */
export function toServiceInfo(
  map: ServiceMap,
  ref: { account: string; service: string },
  options: ServiceViewOptions,
): JamsocketServiceInfo | null {
  const entries = serviceEntries(map, ref.account, ref.service);
  const first = entries[0];
  if (!first) return null;
  const created = isoTime(options.loadedAt);
  const environments: JamsocketServiceEnvironment[] = entries.map(({ environment, config }) => {
    const { tag, digest } = splitImage(config.image);
    return {
      name: environment,
      "image_tag": digest || tag || config.image,
      cluster: config.cluster ?? options.defaultCluster,
      "created_at": created,
      "last_spawned_at": null,
    };
  });
  return {
    name: ref.service,
    "account_name": ref.account,
    "created_at": created,
    "last_spawned_at": null,
    "last_image_upload_time": null,
    "last_image_digest": null,
    "image_name": splitImage(first.config.image).repository,
    environments,
  };
}

/**
 * `images` (jamsocket-api.md §3.9): every image the service's entries can run, each once: the
 * entries' images, then their `tags` (listed under the tag a spawn names). Null when the service is
 * unknown.
 */
export function toServiceImages(
  map: ServiceMap,
  ref: { account: string; service: string },
  options: Pick<ServiceViewOptions, "loadedAt">,
): JamsocketImages | null {
  const entries = serviceEntries(map, ref.account, ref.service);
  if (entries.length === 0) return null;
  const uploaded = isoTime(options.loadedAt);
  const seen = new Set<string>();
  const images: JamsocketImages["images"] = [];
  const add = (image: string, tagName: string | null) => {
    if (seen.has(image)) return;
    seen.add(image);
    const { repository, tag, digest } = splitImage(image);
    images.push({ repository, digest, tag: tagName ?? tag, "upload_time": uploaded });
  };
  for (const { config } of entries) add(config.image, null);
  for (const { config } of entries) {
    for (const [tagName, image] of Object.entries(config.tags)) add(image, tagName);
  }
  return { images };
}

function serviceNotFound(account: string, service: string, map: ServiceMap): HttpError {
  const known = accountServices(map, account);
  return new HttpError(
    404,
    "ServiceNotFound",
    `Service "${account}/${service}" is not in the controller's service map` +
      (known.length > 0
        ? ` (account "${account}" has: ${known.join(", ")})`
        : " (add it to the --services file and restart the controller)"),
  );
}

async function viewOptions(ctx: ControllerContext): Promise<ServiceViewOptions> {
  return {
    loadedAt: await controllerFirstSeen(ctx.db, ctx.name) ?? Date.now(),
    defaultCluster: ctx.config.defaultCluster ?? "",
  };
}

function ref(params: Params) {
  return { account: params.account ?? "", service: params.service ?? "" };
}

/** `GET /v2/account/{account}/services` (jamsocket-api.md §3.9). */
export function handleServiceList(ctx: ControllerContext, _req: Request, params: Params) {
  const account = params.account ?? "";
  const body: JamsocketServiceList = {
    services: SERVICE_NAME.test(account) ? accountServices(ctx.config.services, account) : [],
  };
  return jsonResponse(body);
}

/** `GET /v2/service/{account}/{service}` (jamsocket-api.md §3.9). */
export async function handleServiceInfo(ctx: ControllerContext, _req: Request, params: Params) {
  const { account, service } = ref(params);
  const info = toServiceInfo(ctx.config.services, { account, service }, await viewOptions(ctx));
  if (!info) throw serviceNotFound(account, service, ctx.config.services);
  return jsonResponse(info);
}

/** `GET /v2/service/{account}/{service}/images` (jamsocket-api.md §3.9). */
export async function handleServiceImages(ctx: ControllerContext, _req: Request, params: Params) {
  const { account, service } = ref(params);
  const images = toServiceImages(ctx.config.services, { account, service }, await viewOptions(ctx));
  if (!images) throw serviceNotFound(account, service, ctx.config.services);
  return jsonResponse(images);
}

/** The refusal of every write to the service map: it is the `--services` file. */
function readOnly(action: string, path: string, fix: string): HttpError {
  return new HttpError(
    409,
    "ServiceMapReadOnly",
    `Cannot ${action} "${path}": services come from the controller's --services file; ${fix}`,
  );
}

/**
 * `POST /v2/account/{account}/service` `{name}` (jamsocket-api.md §3.9): refused, naming the file
 * entry.
 */
export async function handleServiceCreate(
  ctx: ControllerContext,
  req: Request,
  params: Params,
): Promise<Response> {
  const account = params.account ?? "";
  let name = "";
  try {
    const body = await req.json() as { name?: unknown };
    if (typeof body?.name === "string") name = body.name;
  } catch {
    // The name is only used in the message.
  }
  const path = `${account}/${name || "SERVICE"}`;
  if (name && accountServices(ctx.config.services, account).includes(name)) {
    throw readOnly("create service", path, "it is already there");
  }
  throw readOnly(
    "create service",
    path,
    `add "${path}": {"image": "IMAGE"} to that file and restart the controller`,
  );
}

/**
 * `POST /v2/service/{account}/{service}[/{environment}]/update` (jamsocket-api.md §3.9): refused.
 */
export async function handleServiceUpdate(
  _ctx: ControllerContext,
  req: Request,
  params: Params,
): Promise<Response> {
  await req.body?.cancel();
  const path = [params.account, params.service, params.environment].filter(Boolean).join("/");
  throw readOnly(
    "update service",
    path,
    `change the "image" (or "tags") of "${path}" there and restart the controller`,
  );
}

/** `POST /v2/service/{account}/{service}/delete` (jamsocket-api.md §3.9): refused. */
export async function handleServiceDelete(
  _ctx: ControllerContext,
  req: Request,
  params: Params,
): Promise<Response> {
  await req.body?.cancel();
  const path = `${params.account}/${params.service}`;
  throw readOnly("delete service", path, `remove "${path}" there and restart the controller`);
}

/** `GET [/v2]/service/{account}/{service}/image-name` (`push`, jamsocket-api.md §3.9): refused. */
export function handleServiceImageName(
  _ctx: ControllerContext,
  _req: Request,
  params: Params,
): Response {
  const path = `${params.account}/${params.service}`;
  throw readOnly(
    "push an image to service",
    path,
    `push it to your own registry and name it as "${path}"'s "image" there`,
  );
}
