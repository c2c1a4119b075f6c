/**
 * The drone's durable memory (behaviour doc §9), on `node:sqlite`: the latest state of every
 * backend plus an outbox of state events not yet acked by a controller. Events are persisted
 * before they are sent, replayed to every new listener (each controller connection) until
 * acked, so no state change is lost across controller outages or drone restarts. A terminated
 * backend's row is pruned once all its events are acked, so the file tracks live backends.
 */
import { DatabaseSync } from "node:sqlite";
import { BackendState } from "../shared/backend_state.ts";
import type { BackendStateMessage } from "../shared/protocol.ts";
import type { BackendName } from "../shared/names.ts";

export type StateListener = (message: BackendStateMessage) => void;

export interface ActiveBackend {
  id: BackendName;
  state: BackendState;
}

export class StateStore {
  #db: DatabaseSync;
  #listener: StateListener | null = null;

  /** Opens (creating if needed, mode 0600 is the caller's concern) the store at `path`; `:memory:` in tests. */
  constructor(path: string) {
    this.#db = new DatabaseSync(path);
    // WAL keeps writers from blocking the replay reader; NORMAL sync is durable across
    // process crashes, which is the failure the outbox exists for.
    if (path !== ":memory:") {
      this.#db.exec("pragma journal_mode = wal; pragma synchronous = normal;");
    }
    this.#db.exec(`
      create table if not exists backend (
        id text primary key,
        state json not null
      );
      create table if not exists event (
        id integer primary key autoincrement,
        backend_id text,
        event json not null,
        timestamp integer not null,
        foreign key (backend_id) references backend(id)
      );
      create index if not exists event_backend_id on event (backend_id);
    `);
  }

  /** Records `state` as the backend's current state and appends it to the outbox (one transaction), then notifies the listener. */
  registerEvent(backendId: BackendName, state: BackendState, timestampMs: number): number {
    const json = JSON.stringify(state);
    this.#db.exec("begin immediate");
    let eventId: number;
    try {
      this.#db.prepare(
        "insert into backend (id, state) values (?, ?) on conflict (id) do update set state = excluded.state",
      ).run(backendId, json);
      const result = this.#db.prepare(
        "insert into event (backend_id, event, timestamp) values (?, ?, ?)",
      ).run(backendId, json, Math.round(timestampMs));
      eventId = Number(result.lastInsertRowid);
      this.#db.exec("commit");
    } catch (err) {
      this.#db.exec("rollback");
      throw err;
    }
    this.#listener?.({
      event_id: eventId,
      backend_id: backendId,
      state,
      timestamp: Math.round(timestampMs),
    });
    return eventId;
  }

  /**
   * Installs `listener` after replaying every unacked event to it in timestamp order: a new
   * listener means a new controller connection, and anything sent on the old one may be lost.
   */
  registerListener(listener: StateListener): void {
    for (const message of this.unackedEvents()) listener(message);
    this.#listener = listener;
  }

  clearListener(): void {
    this.#listener = null;
  }

  unackedEvents(): BackendStateMessage[] {
    const rows = this.#db.prepare(
      "select id, backend_id, event, timestamp from event order by timestamp, id",
    ).all() as { id: number; backend_id: string; event: string; timestamp: number }[];
    return rows.map((row) => ({
      event_id: Number(row.id),
      backend_id: row.backend_id as BackendName,
      state: BackendState.parse(JSON.parse(row.event)),
      timestamp: Number(row.timestamp),
    }));
  }

  /**
   * The controller has the event: drop it from the outbox. Once a `terminated` backend has no
   * unacked event left, its row goes too (issue 11, finding 5): the controller knows the end,
   * the start-up sweep has nothing to kill, and the store stays as small as the live set.
   */
  ackEvent(eventId: number): void {
    const acked = this.#db.prepare("delete from event where id = ? returning backend_id")
      .get(eventId) as { backend_id: string | null } | undefined;
    if (!acked?.backend_id) return;
    this.#db.prepare(
      `delete from backend where id = ? and json_extract(state, '$.status') = 'terminated'
         and not exists (select 1 from event where backend_id = backend.id)`,
    ).run(acked.backend_id);
  }

  /** Backends whose last state is not `terminated` (killed by the start-up sweep, §6.4). */
  activeBackends(): ActiveBackend[] {
    const rows = this.#db.prepare(
      "select id, state from backend where json_extract(state, '$.status') != 'terminated'",
    ).all() as { id: string; state: string }[];
    return rows.map((row) => ({
      id: row.id as BackendName,
      state: BackendState.parse(JSON.parse(row.state)),
    }));
  }

  backendState(backendId: BackendName): BackendState | null {
    const row = this.#db.prepare("select state from backend where id = ?").get(backendId) as
      | { state: string }
      | undefined;
    return row ? BackendState.parse(JSON.parse(row.state)) : null;
  }

  close(): void {
    this.#listener = null;
    this.#db.close();
  }
}
