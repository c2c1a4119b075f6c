/** State shared by every connection of one engine. */
import type { UpstreamPool } from "./_upstream.ts";
import type { EngineErrorResponse, EngineLimits, EngineOptions, RequestHead } from "./types.ts";
import type { Histogram } from "../../shared/mod.ts";

export interface EngineStats {
  /** Client connections open now (upgraded ones included). */
  connections: number;
  /** Upgraded tunnels open now. */
  upgrades: number;
  /** Request heads parsed and decided since the start. */
  requests: number;
  /** Requests answered by the engine itself with a 4xx (unframeable, timeout, too large). */
  rejected: number;
  /** 502s: connect failure or timeout, upstream closed or sent an unframeable response. */
  badGateway: number;
  upstreamConnects: number;
  upstreamReuses: number;
  /** Header fields from `decide`/`responseHeaders` dropped because they were not valid HTTP. */
  droppedHeaders: number;
  /** Bytes read from clients (tunnels included). */
  bytesIn: number;
  /** Bytes queued to clients (tunnels included). */
  bytesOut: number;
  /** Response heads sent to clients, by status class: index 1 is 1xx … index 5 is 5xx. */
  responses: Float64Array;
  /** Seconds from a request head parsed to its response sent (to the 101 for an upgrade). */
  duration: Histogram;
}

export interface Core {
  readonly options: EngineOptions;
  readonly limits: EngineLimits;
  readonly stats: EngineStats;
  readonly pool: UpstreamPool;
  closing: boolean;
  /** Coarse clock (ms), advanced by the engine's ticker: timeouts need no more precision. */
  now: number;
  errorResponse(status: number, reason: string, head?: RequestHead): EngineErrorResponse;
}
