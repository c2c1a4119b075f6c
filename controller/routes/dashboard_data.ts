/**
 * The read endpoints the web dashboard needs and the API lacked (decisions.md §3.10),
 * authenticated like the rest of `/ctrl/*`:
 *
 * - `GET /ctrl/clusters`: clusters with a connected drone or proxy, and the default cluster,
 *   so the dashboard can open without being told a cluster name.
 * - `GET /ctrl/c/{cluster}/drones`: connected drones with their pool (which `…/state`, Plane's
 *   shape, omits) and the summed latest CPU and memory of their backends.
 * - `GET /ctrl/c/{cluster}/status-stream`: every backend status change of the cluster as SSE.
 *   The per-backend `/pub/b/{id}/status-stream` would need one connection per listed backend,
 *   and a browser opens at most six HTTP/1.1 connections per origin. No replay: statuses only
 * move forward (plane-0.5.md §4.2), so a client opens this stream, then lists, and keeps the higher
 * rank.
 * - `GET /ctrl/b/{backend}/usage`: the backend's recent resource samples (`usage_history.ts`).
 */
import { z } from "zod";
import type { ControllerContext } from "../context.ts";
import { HttpError, jsonResponse } from "../http_error.ts";
import type { Params } from "../router.ts";
import { clusterParam } from "./drones.ts";
import {
  type BackendName,
  BackendState,
  type BackendUsage,
  type ClusterList,
  type ClusterName,
  type ClusterStatusEvent,
  type DroneList,
  type DroneName,
  type DroneSummary,
  nameError,
  toStatusEntry,
} from "../../shared/mod.ts";

/** Drones sample every 10 s; a sample older than three intervals no longer counts as current. */
export const CURRENT_SAMPLE_MS = 30_000;

function startUsage(ctx: ControllerContext): Promise<void> {
  return ctx.usage.start((listener) => ctx.metrics.subscribeAll(listener));
}

export async function handleClusters(ctx: ControllerContext): Promise<Response> {
  const { rows } = await ctx.db.query<{ cluster: ClusterName }>(
    `select distinct n.cluster from node n join controller c on c.id = n.controller
     where n.kind in ('Drone', 'Proxy') order by n.cluster`,
  );
  const clusters = rows.map((r) => r.cluster);
  const fallback = ctx.config.defaultCluster ?? null;
  if (fallback !== null && !clusters.includes(fallback)) clusters.unshift(fallback);
  const body: ClusterList = { "default_cluster": fallback, clusters };
  return jsonResponse(body);
}

interface DroneRow {
  name: DroneName;
  pool: string;
  ready: boolean;
  draining: boolean;
  "last_heartbeat_age": number | null;
  backends: string[];
}

export async function handleDroneList(
  ctx: ControllerContext,
  _req: Request,
  params: Params,
): Promise<Response> {
  const cluster = clusterParam(params);
  await startUsage(ctx);
  const { rows } = await ctx.db.query<DroneRow>(
    `select n.name, d.pool, d.ready, d.draining,
       floor(extract(epoch from now() - d.last_heartbeat))::int as last_heartbeat_age,
       array(select b.id from backend b
             where b.drone_id = n.id and b.last_status != 'terminated') as backends
     from node n
     join controller c on c.id = n.controller
     join drone d on d.id = n.id
     where n.cluster = $1 and n.kind = 'Drone'
     order by n.id`,
    [cluster],
  );
  const drones = rows.map((row): DroneSummary => {
    let cpu: number | null = null;
    let mem: number | null = null;
    for (const backend of row.backends) {
      const sample = ctx.usage.latest(backend, CURRENT_SAMPLE_MS);
      if (!sample) continue;
      mem = (mem ?? 0) + sample.mem_used;
      if (sample.cpu_percent !== null) cpu = (cpu ?? 0) + sample.cpu_percent;
    }
    return {
      name: row.name,
      pool: row.pool,
      ready: row.ready,
      draining: row.draining,
      "last_heartbeat_age": row.last_heartbeat_age,
      "backend_count": row.backends.length,
      "cpu_percent": cpu,
      "mem_used": mem,
    };
  });
  const body: DroneList = { drones };
  return jsonResponse(body);
}

const StateEvent = z.object({ cluster: z.string(), "backend_id": z.string(), state: BackendState });

/** One SSE event of the cluster stream. */
export function formatClusterStatusEvent(
  backendId: BackendName,
  state: BackendState,
  time: number,
) {
  const event: ClusterStatusEvent = { ...toStatusEntry(state, time), "backend_id": backendId };
  return `data: ${JSON.stringify(event)}\n\n`;
}

export function handleClusterStatusStream(
  ctx: ControllerContext,
  _req: Request,
  params: Params,
): Response {
  const cluster = clusterParam(params);
  const encoder = new TextEncoder();
  let finished = false;
  let keepAlive: ReturnType<typeof setInterval> | undefined;
  let unsubscribe = () => {};
  let sink: ReadableStreamDefaultController<Uint8Array> | null = null;
  function finish() {
    if (finished) return;
    finished = true;
    unsubscribe();
    clearInterval(keepAlive);
    ctx.signal.removeEventListener("abort", end);
  }
  function end() {
    finish();
    try {
      sink?.close();
    } catch {
      // Already cancelled by the client.
    }
  }
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      sink = controller;
      if (ctx.signal.aborted) return end();
      ctx.signal.addEventListener("abort", end, { once: true });
      unsubscribe = ctx.bus.subscribe("backend_state", null, (event) => {
        const parsed = StateEvent.safeParse(event.data);
        if (finished || !parsed.success || parsed.data.cluster !== cluster) return;
        const { backend_id: id, state } = parsed.data;
        // Validated by the event's writer (db/backend_state.ts).
        controller.enqueue(
          encoder.encode(formatClusterStatusEvent(id as BackendName, state, event.time)),
        );
      });
      // Tells the client it is subscribed (it lists the backends after this), and keeps
      // intermediaries from timing the connection out (plane-0.5.md §2.9).
      controller.enqueue(encoder.encode(": subscribed\n\n"));
      keepAlive = setInterval(() => {
        if (!finished) controller.enqueue(encoder.encode(": keep-alive\n\n"));
      }, ctx.config.sseKeepAliveMs);
    },
    cancel() {
      finish();
    },
  });
  return new Response(body, {
    headers: {
      "content-type": "text/event-stream",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
    },
  });
}

export async function handleBackendUsage(
  ctx: ControllerContext,
  _req: Request,
  params: Params,
): Promise<Response> {
  const id = params.backend ?? "";
  const notFound = new HttpError(404, "NotFound", `Backend ${JSON.stringify(id)} does not exist`);
  if (nameError(id, "") !== null) throw notFound;
  const { rows } = await ctx.db.query("select 1 from backend where id = $1", [id]);
  if (rows.length === 0) throw notFound;
  await startUsage(ctx);
  const body: BackendUsage = { "backend_id": id as BackendName, samples: ctx.usage.recent(id) };
  return jsonResponse(body);
}
