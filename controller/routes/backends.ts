/**
 * Operator listing routes (decisions.md §3.6): `GET /ctrl/c/{cluster}/backends`
 * (paged with an opaque cursor, `?status=` filter, bounded `?limit=`) and `GET /ctrl/b/{backend}`
 * (the full row).
 */
import type { ControllerContext } from "../context.ts";
import { HttpError, jsonResponse } from "../http_error.ts";
import type { Params } from "../router.ts";
import { type BackendList, BackendStatus, clusterNameError } from "../../shared/mod.ts";
import {
  decodeCursor,
  encodeCursor,
  getBackendInfo,
  listBackends,
  type ListBackendsOptions,
} from "../db/mod.ts";

export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 1000;

/** Parses `?status=a,b&limit=N&cursor=C`; throws a 400 naming the first bad parameter. */
export function parseListQuery(query: URLSearchParams): ListBackendsOptions {
  const statuses: BackendStatus[] = [];
  for (const value of query.getAll("status").flatMap((s) => s.split(","))) {
    if (value === "") continue;
    const status = BackendStatus.safeParse(value);
    if (!status.success) {
      throw new HttpError(
        400,
        "InvalidRequest",
        `Invalid status "${value}": expected one of ${BackendStatus.options.join(", ")}`,
      );
    }
    statuses.push(status.data);
  }
  let limit = DEFAULT_LIST_LIMIT;
  const limitText = query.get("limit");
  if (limitText !== null) {
    limit = /^\d{1,7}$/.test(limitText) ? Number(limitText) : NaN;
    if (!(limit >= 1 && limit <= MAX_LIST_LIMIT)) {
      throw new HttpError(
        400,
        "InvalidRequest",
        `Invalid limit "${limitText}": expected an integer from 1 to ${MAX_LIST_LIMIT}`,
      );
    }
  }
  const cursorText = query.get("cursor");
  const after = cursorText === null || cursorText === "" ? null : decodeCursor(cursorText);
  if (cursorText && after === null) {
    throw new HttpError(400, "InvalidRequest", "Invalid cursor: pass next_cursor unchanged");
  }
  return { statuses, limit, after };
}

export async function handleListBackends(
  ctx: ControllerContext,
  req: Request,
  params: Params,
): Promise<Response> {
  const cluster = params.cluster ?? "";
  const error = clusterNameError(cluster);
  if (error) {
    throw new HttpError(400, "InvalidClusterName", `Invalid cluster name "${cluster}": ${error}`);
  }
  const options = parseListQuery(new URL(req.url).searchParams);
  const page = await listBackends(ctx.db, cluster, options);
  const body: BackendList = {
    backends: page.backends,
    "next_cursor": page.next ? encodeCursor(page.next) : null,
  };
  return jsonResponse(body);
}

export async function handleBackendInfo(
  ctx: ControllerContext,
  _req: Request,
  params: Params,
): Promise<Response> {
  const backend = params.backend ?? "";
  const info = await getBackendInfo(ctx.db, backend);
  if (!info) throw new HttpError(404, "NotFound", `Backend "${backend}" does not exist`);
  return jsonResponse(info);
}
