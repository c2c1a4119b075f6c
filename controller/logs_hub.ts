/**
 * Backend log relay across controllers (decisions.md §3.4). The controller serving a
 * `GET /ctrl/b/{backend}/logs` asks, through NOTIFY, whichever controller holds the backend's
 * drone to send it `FollowLogs`; the drone answers with its tail (tagged with the request) and
 * live lines, which the holder publishes on NOTIFY for every controller's viewers. Nothing is
 * stored: logs are a live view of the drone's bounded tail.
 */
import type { Database } from "./db/mod.ts";
import type { Sessions } from "./sessions.ts";
import { type BackendName, type Logger, LogLinesMessage } from "../shared/mod.ts";

export const LOGS_CHANNEL = "plane_backend_logs";
export const FOLLOW_CHANNEL = "plane_logs_follow";
/** NOTIFY payloads must stay under 8000 bytes; lines are packed below this. */
const MAX_PAYLOAD = 7000;
/** A longer line is cut so one line always fits in one notification. */
const MAX_LINE = 4000;
const encoder = new TextEncoder();

interface FollowRequest {
  "drone_id": number;
  "backend_id": string;
  request: string;
  "lease_ms": number;
  tail: boolean;
}

export type LogsListener = (message: LogLinesMessage) => void;

export class LogsHub {
  #db: Database;
  #sessions: Sessions;
  #log: Logger;
  #listeners = new Map<string, Set<LogsListener>>();
  #stops: (() => Promise<void>)[] = [];
  #linesListening: Promise<void> | null = null;

  constructor(deps: { db: Database; sessions: Sessions; log: Logger }) {
    this.#db = deps.db;
    this.#sessions = deps.sessions;
    this.#log = deps.log;
  }

  /** Every controller listens for follow requests: it may hold the drone they are for. */
  async start(): Promise<void> {
    this.#stops.push(
      await this.#db.listen(FOLLOW_CHANNEL, {
        onNotify: (payload) => this.#onFollow(payload),
        onConnect: () => {},
      }),
    );
  }

  #onFollow(payload: string) {
    let request: FollowRequest;
    try {
      request = JSON.parse(payload);
    } catch {
      return;
    }
    const drone = this.#sessions.drones.get(request.drone_id);
    drone?.send({
      FollowLogs: {
        "backend_id": request.backend_id as BackendName,
        request: request.request,
        "lease_ms": request.lease_ms,
        tail: request.tail,
      },
    });
  }

  /** Asks the holder of `droneId` (this controller or another) to have the drone follow. */
  async requestFollow(request: FollowRequest): Promise<void> {
    await this.#db.query("select pg_notify($1, $2)", [FOLLOW_CHANNEL, JSON.stringify(request)]);
  }

  /** Publishes a drone's lines to every controller's viewers, in payload-sized chunks. */
  async publish(message: LogLinesMessage): Promise<void> {
    for (const chunk of chunkLines(message)) {
      await this.#db.query("select pg_notify($1, $2)", [LOGS_CHANNEL, JSON.stringify(chunk)]);
    }
  }

  /** Delivers lines of `backendId` to `listener` until the returned function is called. */
  async subscribe(backendId: string, listener: LogsListener): Promise<() => void> {
    let set = this.#listeners.get(backendId);
    if (!set) this.#listeners.set(backendId, set = new Set());
    set.add(listener);
    // Listen for lines lazily: only controllers with viewers pay for the connection.
    this.#linesListening ??= this.#db.listen(LOGS_CHANNEL, {
      onNotify: (payload) => this.#onLines(payload),
      onConnect: () => {},
    }).then((stop) => void this.#stops.push(stop));
    await this.#linesListening;
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#listeners.get(backendId) === set) {
        this.#listeners.delete(backendId);
      }
    };
  }

  #onLines(payload: string) {
    let json: unknown;
    try {
      json = JSON.parse(payload);
    } catch {
      return;
    }
    const parsed = LogLinesMessage.safeParse(json);
    if (!parsed.success) return;
    for (const listener of this.#listeners.get(parsed.data.backend_id) ?? []) {
      try {
        listener(parsed.data);
      } catch (err) {
        this.#log.error("Log listener failed", { err });
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.#stops.map((stop) => stop()));
    this.#stops = [];
  }
}

/** Splits a batch so each chunk's JSON stays under the NOTIFY limit; an empty batch stays one chunk. */
export function chunkLines(message: LogLinesMessage): LogLinesMessage[] {
  const bytes = (value: unknown) => encoder.encode(JSON.stringify(value)).length;
  const chunks: LogLinesMessage[] = [];
  let current: LogLinesMessage = { ...message, more: true, lines: [] };
  let size = bytes(current);
  for (const original of message.lines) {
    const line = original.text.length > MAX_LINE
      ? { ...original, text: original.text.slice(0, MAX_LINE) }
      : original;
    const lineSize = bytes(line) + 1;
    if (current.lines.length > 0 && size + lineSize > MAX_PAYLOAD) {
      chunks.push(current);
      current = { ...message, more: true, lines: [] };
      size = bytes(current);
    }
    current.lines.push(line);
    size += lineSize;
  }
  chunks.push({ ...current, more: message.more });
  return chunks;
}
