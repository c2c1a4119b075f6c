/**
 * A typed client for the controller's HTTP API (plane-0.5.md §2 and the extensions of
 * decisions.md §3), for app servers, the CLI and tests. Every answer is checked against the
 * schemas of `api.ts` and `backend_state.ts`; a non-2xx answer becomes a `PlaneApiError`.
 *
 * It uses only `fetch`, `TextDecoder`, `AbortSignal` and timers, so it runs unchanged in Deno,
 * Node (18+) and browsers.
 *
 * Other projects import it as `@plane/plane/client` (the root `deno.json` exports it; see
 * README "Client library for app servers" for the `links` entry that makes that work).
 *
 * ```ts
 * const plane = createPlaneClient({
 *   controllerUrl: "http://127.0.0.1:8080",
 *   apiKey: Deno.env.get("PLANE_API_KEY"),
 * });
 * const { url, backend_id: id } = await plane.connect({
 *   key: { name: "doc-42" },
 *   spawn_config: { executable: { image: "session-app" }, max_idle_seconds: 300 },
 * });
 * for await (const entry of plane.statusStream(id)) console.log(entry.status);
 * ```
 */
import { z } from "zod";
import {
  BackendInfo,
  BackendList,
  ClusterState,
  type ConnectRequest,
  ConnectResponse,
  DrainResult,
  StatusResponse,
} from "./api.ts";
import { ApiError, type ApiErrorKind } from "./api_error.ts";
import {
  type BackendStatus,
  BackendStatusStreamEntry,
  STATUS_RANK,
  statusRank,
} from "./backend_state.ts";
import { LogLine } from "./protocol.ts";
import { SseParser } from "./sse.ts";
import { delay } from "./delay.ts";

export type { LogLine };

/** The controller refused a request: its `{id, kind, message}` answer, with the HTTP status. */
export class PlaneApiError extends Error {
  readonly status: number;
  readonly kind: ApiErrorKind;
  /** The error id the controller logged (null when the answer was not an API error body). */
  readonly id: string | null;
  constructor(status: number, kind: ApiErrorKind, message: string, id: string | null) {
    super(message);
    this.name = "PlaneApiError";
    this.status = status;
    this.kind = kind;
    this.id = id;
  }
}

/** A 2xx answer that does not match the schema: the controller speaks another version. */
export class PlaneProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PlaneProtocolError";
  }
}

export interface PlaneClientOptions {
  /** The controller's base URL; a bearer key may ride as its username (`http://KEY@host`). */
  controllerUrl: string | URL;
  /** Bearer key for `/ctrl/*` (wins over one in the URL). Never sent to `/pub/*`. */
  apiKey?: string | undefined;
  /** The `fetch` to use (default: the global one). */
  fetch?: typeof fetch;
  /** First delay before a dropped stream reconnects; doubles up to `maxReconnectDelayMs`. */
  reconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
}

/** What `connect()` takes: `ConnectRequest` before defaults are applied. */
export type ConnectRequestInput = z.input<typeof ConnectRequest>;

export interface StatusStreamOptions {
  signal?: AbortSignal | undefined;
  /** Resume after this status: only later ones are yielded. */
  lastEventId?: BackendStatus | undefined;
}

export interface ListBackendsOptions {
  status?: BackendStatus | BackendStatus[] | undefined;
  limit?: number | undefined;
  cursor?: string | null | undefined;
}

export interface PlaneClient {
  /** The base URL requests go to, without credentials. */
  readonly controllerUrl: string;
  /** `POST /ctrl/connect`: get or create a backend and mint a connection token. */
  connect(request: ConnectRequestInput): Promise<ConnectResponse>;
  /** `GET /ctrl/status`: the controller's protocol version. */
  controllerStatus(): Promise<StatusResponse>;
  /** `GET /pub/b/{id}/status`: the backend's current status. */
  status(backendId: string, options?: { signal?: AbortSignal }): Promise<BackendStatusStreamEntry>;
  /**
   * `GET /pub/b/{id}/status?wait=ready`: answers once the backend is ready or past it, or with
   * its current status after `timeoutSeconds` (the controller caps it, default 30 s).
   */
  waitReady(
    backendId: string,
    options?: { timeoutSeconds?: number; signal?: AbortSignal },
  ): Promise<BackendStatusStreamEntry>;
  /**
   * `GET /pub/b/{id}/status-stream`: every status from the first, ending after `terminated`.
   * A dropped connection is resumed with `Last-Event-ID`, so no status repeats or goes
   * missing. Aborting `signal` rejects the iteration with the signal's reason.
   */
  statusStream(
    backendId: string,
    options?: StatusStreamOptions,
  ): AsyncIterable<BackendStatusStreamEntry>;
  /** `POST /ctrl/b/{id}/soft-terminate` (or `hard-terminate`). */
  terminate(backendId: string, options?: { hard?: boolean }): Promise<void>;
  /** `POST /ctrl/b/revoke`: deletes `user`'s tokens for the backend; proxies drop them. */
  revoke(request: { backendId: string; user: string }): Promise<void>;
  /** `POST /ctrl/c/{cluster}/d/{drone}/drain`; `updated` is false if it was already draining. */
  drain(cluster: string, drone: string): Promise<DrainResult>;
  /** `POST /ctrl/c/{cluster}/d/{drone}/undrain`. */
  undrain(cluster: string, drone: string): Promise<DrainResult>;
  /** `GET /ctrl/c/{cluster}/state`: connected drones and proxies. */
  clusterState(cluster: string): Promise<ClusterState>;
  /** `GET /ctrl/b/{id}`: the backend's full record. */
  backend(backendId: string): Promise<BackendInfo>;
  /** `GET /ctrl/c/{cluster}/backends`: one page, newest first; pass `next_cursor` on. */
  listBackends(cluster: string, options?: ListBackendsOptions): Promise<BackendList>;
  /**
   * `GET /ctrl/b/{id}/logs`: the drone's tail of stdout/stderr, then (with `follow`, the
   * default) live lines until the backend is terminated.
   */
  logs(
    backendId: string,
    options?: { follow?: boolean; signal?: AbortSignal },
  ): AsyncIterable<LogLine>;
}

/** Splits a bearer key off the URL's username (Plane's client convention, #538). */
export function parseControllerUrl(input: string | URL): { base: string; apiKey?: string } {
  const url = new URL(input);
  const apiKey = url.username ? decodeURIComponent(url.username) : undefined;
  url.username = "";
  url.password = "";
  url.search = "";
  url.hash = "";
  const base = url.href.replace(/\/+$/, "");
  return apiKey === undefined ? { base } : { base, apiKey };
}

const segment = (value: string) => encodeURIComponent(value);

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The operation was aborted.", "AbortError");
}

/** Parses `value` or throws a `PlaneProtocolError` naming what was being read. */
function check<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue?.path.length ? ` at ${issue.path.map(String).join(".")}` : "";
  throw new PlaneProtocolError(
    `Unexpected answer to ${what}${where}: ${issue?.message ?? "invalid"}`,
  );
}

/** Turns a non-2xx response into a `PlaneApiError` (reading and consuming its body). */
async function apiErrorOf(response: Response): Promise<PlaneApiError> {
  const text = await response.text().catch(() => "");
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    // A plain-text body (a proxy or CDN in between): reported as it is below.
  }
  const parsed = ApiError.safeParse(body);
  if (parsed.success) {
    return new PlaneApiError(
      response.status,
      parsed.data.kind,
      parsed.data.message,
      parsed.data.id,
    );
  }
  const kind: ApiErrorKind = response.status === 401
    ? "Unauthorized"
    : response.status === 404
    ? "NotFound"
    : "Other";
  const detail = text.trim().split("\n")[0]?.slice(0, 200) || response.statusText ||
    `HTTP ${response.status}`;
  return new PlaneApiError(response.status, kind, detail, null);
}

/** Reads an SSE body as events, cancelling it when the consumer stops early. */
async function* sseEvents(response: Response, parser: SseParser) {
  if (!response.body) return;
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
    yield* parser.push(decoder.decode());
  } finally {
    await reader.cancel().catch(() => {});
  }
}

export function createPlaneClient(options: PlaneClientOptions): PlaneClient {
  const { base, apiKey: urlKey } = parseControllerUrl(options.controllerUrl);
  const apiKey = options.apiKey ?? urlKey;
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const firstDelay = options.reconnectDelayMs ?? 250;
  const maxDelay = options.maxReconnectDelayMs ?? 5_000;

  /** Sends one request; the bearer key goes only to `/ctrl/*` (public routes need none). */
  async function send(
    method: "GET" | "POST",
    path: string,
    init: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal | undefined } =
      {},
  ): Promise<Response> {
    const headers = new Headers(init.headers);
    if (apiKey !== undefined && path.startsWith("/ctrl/")) {
      headers.set("authorization", `Bearer ${apiKey}`);
    }
    const request: RequestInit = { method, headers };
    if (method === "POST") {
      headers.set("content-type", "application/json");
      request.body = JSON.stringify(init.body ?? null);
    }
    if (init.signal) request.signal = init.signal;
    const response = await doFetch(`${base}${path}`, request);
    if (!response.ok) throw await apiErrorOf(response);
    return response;
  }

  async function json<S extends z.ZodType>(
    schema: S,
    method: "GET" | "POST",
    path: string,
    init: { body?: unknown; signal?: AbortSignal | undefined } = {},
  ): Promise<z.infer<S>> {
    const response = await send(method, path, init);
    const text = await response.text();
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new PlaneProtocolError(`Unexpected answer to ${method} ${path}: not JSON`);
    }
    return check(schema, value, `${method} ${path}`);
  }

  async function* statusStream(
    backendId: string,
    streamOptions: StatusStreamOptions = {},
  ): AsyncGenerator<BackendStatusStreamEntry> {
    const { signal } = streamOptions;
    const path = `/pub/b/${segment(backendId)}/status-stream`;
    let lastId: string | undefined = streamOptions.lastEventId;
    let lastRank = lastId === undefined ? 0 : statusRank(lastId as BackendStatus);
    let wait = firstDelay;
    // Resuming after `terminated`: nothing can follow it.
    if (lastRank >= STATUS_RANK.terminated) return;
    for (;;) {
      signal?.throwIfAborted();
      let response: Response | null = null;
      try {
        response = await send("GET", path, {
          headers: {
            accept: "text/event-stream",
            ...(lastId === undefined ? {} : { "last-event-id": lastId }),
          },
          signal,
        });
      } catch (err) {
        // A 4xx (unknown backend) is final; a network error or 5xx is worth another try.
        if (signal?.aborted) throw abortReason(signal);
        if (err instanceof PlaneApiError && err.status < 500) throw err;
      }
      if (response) {
        const parser = new SseParser();
        try {
          for await (const event of sseEvents(response, parser)) {
            let value: unknown;
            try {
              value = JSON.parse(event.data);
            } catch {
              throw new PlaneProtocolError(`Unexpected event on ${path}: not JSON`);
            }
            const entry = check(BackendStatusStreamEntry, value, `GET ${path}`);
            wait = firstDelay;
            lastId = event.id || entry.status;
            // The controller skips what Last-Event-ID covers; this guards older servers.
            if (STATUS_RANK[entry.status] <= lastRank) continue;
            lastRank = STATUS_RANK[entry.status];
            yield entry;
            if (entry.status === "terminated") return;
          }
        } catch (err) {
          if (signal?.aborted) throw abortReason(signal);
          if (err instanceof PlaneProtocolError) throw err;
          // The connection broke mid-stream: resume below.
        }
      }
      // The stream ended before `terminated` (the server or a proxy in between closed it).
      await delay(wait, { signal });
      if (signal?.aborted) throw abortReason(signal);
      wait = Math.min(wait * 2, maxDelay);
    }
  }

  async function* logs(
    backendId: string,
    logOptions: { follow?: boolean; signal?: AbortSignal } = {},
  ): AsyncGenerator<LogLine> {
    const query = logOptions.follow === false ? "?follow=false" : "";
    const path = `/ctrl/b/${segment(backendId)}/logs`;
    const response = await send("GET", `${path}${query}`, {
      headers: { accept: "text/event-stream" },
      signal: logOptions.signal,
    });
    try {
      for await (const event of sseEvents(response, new SseParser())) {
        let value: unknown;
        try {
          value = JSON.parse(event.data);
        } catch {
          throw new PlaneProtocolError(`Unexpected event on ${path}: not JSON`);
        }
        yield check(LogLine, value, `GET ${path}`);
      }
    } catch (err) {
      if (logOptions.signal?.aborted) throw abortReason(logOptions.signal);
      throw err;
    }
  }

  return {
    controllerUrl: base,
    connect: (request) => json(ConnectResponse, "POST", "/ctrl/connect", { body: request }),
    controllerStatus: () => json(StatusResponse, "GET", "/ctrl/status"),
    status: (backendId, o = {}) =>
      json(BackendStatusStreamEntry, "GET", `/pub/b/${segment(backendId)}/status`, {
        signal: o.signal,
      }),
    waitReady(backendId, o = {}) {
      const timeout = o.timeoutSeconds === undefined
        ? ""
        : `&timeout=${Math.max(0, Math.ceil(o.timeoutSeconds))}`;
      return json(
        BackendStatusStreamEntry,
        "GET",
        `/pub/b/${segment(backendId)}/status?wait=ready${timeout}`,
        { signal: o.signal },
      );
    },
    statusStream,
    async terminate(backendId, o = {}) {
      const kind = o.hard ? "hard-terminate" : "soft-terminate";
      await json(z.null(), "POST", `/ctrl/b/${segment(backendId)}/${kind}`);
    },
    async revoke({ backendId, user }) {
      await json(z.string(), "POST", "/ctrl/b/revoke", {
        body: { "backend_id": backendId, user },
      });
    },
    drain: (cluster, drone) =>
      json(DrainResult, "POST", `/ctrl/c/${segment(cluster)}/d/${segment(drone)}/drain`),
    undrain: (cluster, drone) =>
      json(DrainResult, "POST", `/ctrl/c/${segment(cluster)}/d/${segment(drone)}/undrain`),
    clusterState: (cluster) => json(ClusterState, "GET", `/ctrl/c/${segment(cluster)}/state`),
    backend: (backendId) => json(BackendInfo, "GET", `/ctrl/b/${segment(backendId)}`),
    listBackends(cluster, o = {}) {
      const query = new URLSearchParams();
      const statuses = o.status === undefined ? [] : [o.status].flat();
      if (statuses.length > 0) query.set("status", statuses.join(","));
      if (o.limit !== undefined) query.set("limit", String(o.limit));
      if (o.cursor) query.set("cursor", o.cursor);
      const text = query.toString();
      const qs = text ? `?${text}` : "";
      return json(BackendList, "GET", `/ctrl/c/${segment(cluster)}/backends${qs}`);
    },
    logs,
  };
}
