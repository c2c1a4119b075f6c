/**
 * Queries behind the proxy socket (plane-0.5.md §7.5, §7.6): which backend a connection
 * token routes to, and proxy keepalives.
 */
import type { Queryable } from "./database.ts";
import {
  BackendState,
  isPathRouteToken,
  isStaticToken,
  PATH_ROUTE_PREFIX,
} from "../../shared/mod.ts";

/** What a token resolves to: the backend's current state plus the token's identity fields. */
export interface RouteTarget {
  backendId: string;
  cluster: string;
  state: BackendState;
  subdomain: string | null;
  secretToken: string;
  user: string | null;
  userData: unknown;
}

interface TargetRow {
  id: string;
  cluster: string;
  state: unknown;
  subdomain: string | null;
  "secret_token": string;
  username: string | null;
  auth: unknown;
}

export interface FindRouteOptions {
  /**
   * Set only for a proxy socket that declared path routing (local development, jamsocket-api.md
   * §10.2), accepted only by a controller started with `--allow-path-routing`: the cluster whose
   * backends `_plane_backend=<id>` may name. Otherwise the prefix is an unknown token (issue 10
   * finding 1: a backend id is public and must never route by itself).
   */
  pathRoutingCluster?: string | undefined;
}

/**
 * Resolves a connection token (plane-0.5.md §7.6): `s.` tokens through `backend.static_token` (no
 * secret, no user), `_plane_backend=<id>` by backend id within the cluster of a path-routing proxy
 * (and for no other socket), others through `token` ⨝ `backend`. Unlike Plane, expired tokens (1 h)
 * are refused here (decisions.md §2.4) rather than working until the cleanup job deletes them. Null
 * when unknown.
 */
export async function findRouteTarget(
  db: Queryable,
  token: string,
  options: FindRouteOptions = {},
): Promise<RouteTarget | null> {
  if (isPathRouteToken(token) && options.pathRoutingCluster === undefined) return null;
  const { rows } = isPathRouteToken(token)
    // A path-routing proxy names the backend itself, and reaches only its own cluster's.
    ? await db.query<TargetRow>(
      `select id, cluster, state, subdomain, '' as secret_token, null as username, null as auth
       from backend where id = $1 and cluster = $2`,
      [token.slice(PATH_ROUTE_PREFIX.length), options.pathRoutingCluster],
    )
    : isStaticToken(token)
    ? await db.query<TargetRow>(
      `select id, cluster, state, subdomain, '' as secret_token, null as username, null as auth
       from backend where static_token = $1 limit 1`,
      [token],
    )
    : await db.query<TargetRow>(
      `select b.id, b.cluster, b.state, b.subdomain, t.secret_token, t.username, t.auth
       from token t join backend b on b.id = t.backend_id
       where t.token = $1 and t.expiration_time > now()`,
      [token],
    );
  const row = rows[0];
  if (!row) return null;
  const state = BackendState.safeParse(row.state);
  if (!state.success) return null;
  return {
    backendId: row.id,
    cluster: row.cluster,
    state: state.data,
    subdomain: row.subdomain,
    secretToken: row.secret_token,
    user: row.username,
    userData: row.auth,
  };
}

/**
 * Records a proxy keepalive (plane-0.5.md §7.5) with Plane's exact guard, for a backend of the
 * proxy's own `cluster` only (issue 10: a proxy of another cluster could keep any backend from its
 * idle sweep); false when the backend is unknown, terminated or of another cluster (the proxy is
 * then told `BackendRemoved`).
 */
export async function recordKeepAlive(
  db: Queryable,
  backendId: string,
  cluster: string,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `update backend set last_keepalive = now()
     where id = $1 and cluster = $2 and last_status != 'terminated'`,
    [backendId, cluster],
  );
  return rowCount > 0;
}
