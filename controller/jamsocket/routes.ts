/**
 * @module
 * The Jamsocket-compatible API on the controller (jamsocket-api.md §3, §4, §11), so apps
 * written for Jamsocket run against us with only their API URL changed. `JAMSOCKET_ROUTES` is
 * added to `app.ts`'s table: each entry declares its auth ("api": Bearer API key, as `/ctrl/*`),
 * Jamsocket's error envelope, so that every refusal, 401 included, is one the clients parse,
 * and Jamsocket's CORS (`Access-Control-Allow-Origin: *` on every answer). Paths are matched with
 * and without the `/v1` prefix (v1 routes), with a doubled leading slash (an `apiUrl` ending in
 * `/`), and without regard to the query strings the clients add.
 */
import type { ControllerContext } from "../context.ts";
import type { Handler, Params, RequestInfo, RouteAuth, RouteEntry } from "../router.ts";
import { jsonResponse, readJsonBody } from "../http_error.ts";
import {
  type JamsocketAuthResponse,
  JamsocketConnectRequest,
  type JamsocketConnectResponse,
  JamsocketV1SpawnRequest,
  type JamsocketV1SpawnResponse,
} from "../../shared/mod.ts";
import { jamsocketConnect } from "./connect.ts";
import { v1StatusOfLive } from "./status.ts";
import { handleReadyPage, readyPath } from "./ready_page.ts";
import {
  handleV1Status,
  handleV1StatusStream,
  handleV1Terminate,
  handleV2AccountBackends,
  handleV2BackendInfo,
  handleV2LogsStream,
  handleV2Status,
  handleV2StatusStream,
  handleV2Terminate,
} from "./backends.ts";
import {
  handleServiceCreate,
  handleServiceDelete,
  handleServiceImageName,
  handleServiceImages,
  handleServiceInfo,
  handleServiceList,
  handleServiceUpdate,
} from "./services.ts";
import { handleV2MetricsStream } from "./metrics.ts";

/** `POST /v2/service/{account}/{service}[/{environment}]/connect` (jamsocket-api.md §3.1). */
async function handleV2Connect(
  ctx: ControllerContext,
  req: Request,
  params: Params,
  info: RequestInfo,
): Promise<Response> {
  const body = await readJsonBody(req, JamsocketConnectRequest, {
    maxBytes: ctx.config.maxBodyBytes,
    lenient: true,
  });
  const spawn = body.spawn === false ? false : body.spawn === true ? {} : body.spawn ?? {};
  const { response } = await jamsocketConnect(ctx, {
    account: params.account ?? "",
    service: params.service ?? "",
    environment: params.environment,
  }, {
    key: body.key ?? null,
    spawn,
    user: body.user ?? null,
    auth: body.auth ?? {},
  }, { remoteIp: info.remoteIp });
  const id = response.backend_id;
  const answer: JamsocketConnectResponse = {
    "backend_id": id,
    spawned: response.spawned,
    status: response.status,
    token: response.token,
    url: response.url,
    "status_url": `${ctx.controllerUrl}/v2/backend/${id}/status`,
    "ready_url": `${ctx.controllerUrl}${readyPath(id, response.token)}`,
  };
  if (response.secret_token !== null) answer.secret_token = response.secret_token;
  return jsonResponse(answer);
}

/** `POST [/v1]/user/{account}/service/{service}/spawn` (jamsocket-api.md §4.1). */
async function handleV1Spawn(
  ctx: ControllerContext,
  req: Request,
  params: Params,
  info: RequestInfo,
): Promise<Response> {
  const body = await readJsonBody(req, JamsocketV1SpawnRequest, {
    maxBytes: ctx.config.maxBodyBytes,
    lenient: true,
  });
  const { response } = await jamsocketConnect(ctx, {
    account: params.account ?? "",
    service: params.service ?? "",
    environment: body.service_environment ?? undefined,
  }, {
    key: body.lock ?? null,
    spawn: {
      tag: body.tag ?? null,
      "max_idle_seconds": body.grace_period_seconds ?? null,
      executable: { env: body.env ?? {} },
    },
    user: null,
    auth: {},
  }, { remoteIp: info.remoteIp });
  const id = response.backend_id;
  const answer: JamsocketV1SpawnResponse = {
    url: response.url,
    name: id,
    "backend_id": id,
    "ready_url": `${ctx.controllerUrl}${readyPath(id, response.token)}`,
    // v1 names the unprefixed path (jamsocket-api.md §4.1).
    "status_url": `${ctx.controllerUrl}/backend/${id}/status`,
    spawned: response.spawned,
    status: v1StatusOfLive(response.status),
  };
  return jsonResponse(answer);
}

/**
 * `GET /auth` (jamsocket-api.md §3.9): the key is good; the accounts are those of the service map.
 */
function handleAuth(ctx: ControllerContext): Response {
  const accounts = [...new Set(Object.keys(ctx.config.services).map((p) => p.split("/")[0]!))];
  const body: JamsocketAuthResponse = { status: "ok", accounts, "is_admin": false };
  return jsonResponse(body);
}

/** A route of the table below: method, pattern, who may call it, handler. */
type Entry = readonly [string, string, RouteAuth, Handler];

const V2: readonly Entry[] = [
  ["POST", "/v2/service/:account/:service/connect", "api", handleV2Connect],
  ["POST", "/v2/service/:account/:service/:environment/connect", "api", handleV2Connect],
  ["GET", "/v2/backend/:backend/status", "public", handleV2Status],
  ["GET", "/v2/backend/:backend/status/stream", "public", handleV2StatusStream],
  ["POST", "/v2/backend/:backend/terminate", "api", handleV2Terminate],
  ["GET", "/v2/backend/:backend", "api", handleV2BackendInfo],
  ["GET", "/v2/backend/:backend/logs/stream", "api", handleV2LogsStream],
  ["GET", "/v2/backend/:backend/metrics/stream", "api", handleV2MetricsStream],
  ["GET", "/v2/account/:account/backends", "api", handleV2AccountBackends],
  ["GET", "/v2/account/:account/services", "api", handleServiceList],
  ["POST", "/v2/account/:account/service", "api", handleServiceCreate],
  ["GET", "/v2/service/:account/:service", "api", handleServiceInfo],
  ["GET", "/v2/service/:account/:service/images", "api", handleServiceImages],
  ["POST", "/v2/service/:account/:service/update", "api", handleServiceUpdate],
  ["POST", "/v2/service/:account/:service/:environment/update", "api", handleServiceUpdate],
  ["POST", "/v2/service/:account/:service/delete", "api", handleServiceDelete],
  ["GET", "/v2/service/:account/:service/image-name", "api", handleServiceImageName],
  ["GET", "/service/:account/:service/image-name", "api", handleServiceImageName],
  ["GET", "/auth", "api", handleAuth],
  ["GET", "/ready/:backend/:token", "public", handleReadyPage],
  ["GET", "/ready/:backend/:token/", "public", handleReadyPage],
];

/** v1 routes, served with and without the `/v1` prefix (jamsocket-api.md §4). */
const V1: readonly Entry[] = [
  ["POST", "/user/:account/service/:service/spawn", "api", handleV1Spawn],
  ["GET", "/backend/:backend/status", "public", handleV1Status],
  ["GET", "/backend/:backend/status/stream", "public", handleV1StatusStream],
  ["POST", "/backend/:backend/terminate", "api", handleV1Terminate],
];

function buildRoutes(): RouteEntry[] {
  const entries = [...V2, ...V1, ...V1.map(([m, p, a, h]) => [m, `/v1${p}`, a, h] as const)];
  const routes: RouteEntry[] = [];
  // A doubled slash after the host (`apiUrl` with a trailing `/`) reaches the same route.
  for (const prefix of ["", "/"]) {
    for (const [method, pattern, auth, run] of entries) {
      routes.push({
        method,
        pattern: `${prefix}${pattern}`,
        auth,
        errors: "jamsocket",
        cors: "jamsocket",
        run,
      });
    }
  }
  return routes;
}

export const JAMSOCKET_ROUTES: readonly RouteEntry[] = buildRoutes();

/**
 * First path segments that are Jamsocket's (jamsocket-api.md §1, §3, §4): the API versions, v1's
 * unprefixed families, and the service, login and ready paths. Everything else is Plane's (`/ctrl`,
 * `/pub`).
 */
const JAMSOCKET_SEGMENTS = new Set([
  "v1",
  "v2",
  "user",
  "backend",
  "service",
  "service-env",
  "env",
  "token",
  "auth",
  "ready",
  "cli-login",
  "cli_login",
  "user-session",
  "user_session",
]);

/** Whether `pathname` is under a Jamsocket prefix (a doubled leading slash included). */
export function isJamsocketPath(pathname: string): boolean {
  const rest = pathname.startsWith("//") ? pathname.slice(2) : pathname.slice(1);
  return JAMSOCKET_SEGMENTS.has(rest.split("/", 1)[0] ?? "");
}
