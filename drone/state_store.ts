/**
 * The drone's durable memory (plane-0.5.md §9), on `node:sqlite`: the latest state of every
 * backend plus an outbox of state events not yet acked by a controller. Events are persisted
 * before they are sent, replayed to every new listener (each controller connection) until
 * acked, so no state change is lost across controller outages or drone restarts. A listener
 * gets at most a window of unacked events at a time (`outbox_window.ts`, issue 11 finding 1),
 * the rest as acks arrive. A terminated
 * backend's row is pruned once all its events are acked, so the file tracks live backends.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { type BackendName, BackendState, type BackendStateMessage } from "../shared/mod.ts";
import { OutboxWindow } from "./outbox_window.ts";

export type StateListener = (message: BackendStateMessage) => void;

export interface ActiveBackend {
  id: BackendName;
  state: BackendState;
}

export class StateStore {
  #db: DatabaseSync;
  #listener: StateListener | null = null;
  #window: OutboxWindow | null = null;
  #pumping = false;
  #pumpAgain = false;
  /** Unacked events may exist that were not sent on this listener (false: all are in flight). */
  #backlog = true;
  /**
   * Every statement is prepared once, here. A statement prepared per call holds
   * SQLite memory (outside the V8 heap, so invisible to the collector) until V8 happens to
   * collect its small wrapper; at a few events per backend that was tens of MiB of RSS in a
   * sawtooth under a soak (measured: 100,000 insert+delete pairs, 131 MiB RSS prepared per
   * call vs 46 MiB prepared once).
   */
  readonly #sql: {
    upsertBackend: StatementSync;
    insertEvent: StatementSync;
    unacked: StatementSync;
    deleteEvent: StatementSync;
    pruneBackend: StatementSync;
    active: StatementSync;
    backendState: StatementSync;
  };

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
    const db = this.#db;
    this.#sql = {
      upsertBackend: db.prepare(
        "insert into backend (id, state) values (?, ?) on conflict (id) do update set state = excluded.state",
      ),
      insertEvent: db.prepare("insert into event (backend_id, event, timestamp) values (?, ?, ?)"),
      unacked: db.prepare(
        `select id, backend_id, event, timestamp from event
         where id not in (select value from json_each(?))
         order by timestamp, id limit ?`,
      ),
      deleteEvent: db.prepare("delete from event where id = ? returning backend_id"),
      pruneBackend: db.prepare(
        `delete from backend where id = ? and json_extract(state, '$.status') = 'terminated'
           and not exists (select 1 from event where backend_id = backend.id)`,
      ),
      active: db.prepare(
        "select id, state from backend where json_extract(state, '$.status') != 'terminated'",
      ),
      backendState: db.prepare("select state from backend where id = ?"),
    };
  }

  /** Records `state` as the backend's current state and appends it to the outbox (one transaction), then notifies the listener. */
  registerEvent(backendId: BackendName, state: BackendState, timestampMs: number): number {
    const json = JSON.stringify(state);
    this.#db.exec("begin immediate");
    let eventId: number;
    try {
      this.#sql.upsertBackend.run(backendId, json);
      const result = this.#sql.insertEvent.run(backendId, json, Math.round(timestampMs));
      eventId = Number(result.lastInsertRowid);
      this.#db.exec("commit");
    } catch (err) {
      this.#db.exec("rollback");
      throw err;
    }
    const message = {
      "event_id": eventId,
      "backend_id": backendId,
      state,
      timestamp: Math.round(timestampMs),
    };
    if (!this.#backlog && !this.#pumping && this.#window && this.#window.room > 0) {
      // Every older unacked event is in flight already: send this one without reading it back.
      this.#window.sent(eventId);
      this.#listener?.(message);
    } else {
      this.#backlog = true;
      this.#pump();
    }
    return eventId;
  }

  /**
   * Installs `listener` and replays the unacked events to it in timestamp order (a new listener
   * means a new controller connection, and anything sent on the old one may be lost), at most
   * `window` unacked at a time; each ack lets the next ones (older backlog, then new events) go.
   */
  registerListener(listener: StateListener, options: { window?: number } = {}): void {
    this.#listener = listener;
    this.#window = new OutboxWindow(options.window);
    this.#backlog = true;
    this.#pump();
  }

  clearListener(): void {
    this.#listener = null;
    this.#window = null;
  }

  /** Sends unacked, unsent events to the listener while the window has room. */
  #pump(): void {
    // A listener may ack (or record) synchronously; the outer call then loops instead.
    if (this.#pumping) return void (this.#pumpAgain = true);
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        const listener = this.#listener;
        const window = this.#window;
        if (!listener || !window || window.room === 0 || !this.#backlog) return;
        const room = window.room;
        const messages = this.unackedEvents({ limit: room, skip: window.inFlight });
        this.#backlog = messages.length === room;
        for (const message of messages) {
          window.sent(message.event_id);
          listener(message);
          // The listener changed (a reconnect) while we were sending: start over with it.
          if (this.#window !== window) break;
        }
      } while (this.#pumpAgain);
    } finally {
      this.#pumping = false;
    }
  }

  /** Unacked events in timestamp order: at most `limit`, without the ids in `skip`. */
  unackedEvents(options: { limit?: number; skip?: number[] } = {}): BackendStateMessage[] {
    const rows = this.#sql.unacked.all(JSON.stringify(options.skip ?? []), options.limit ?? -1) as {
      id: number;
      backend_id: string;
      event: string;
      timestamp: number;
    }[];
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
    const acked = this.#sql.deleteEvent.get(eventId) as { backend_id: string | null } | undefined;
    if (acked?.backend_id) this.#sql.pruneBackend.run(acked.backend_id);
    if (this.#window?.acked(eventId)) this.#pump();
  }

  /**
   * Backends whose last state is not `terminated` (killed by the start-up sweep, plane-0.5.md
   * §6.4).
   */
  activeBackends(): ActiveBackend[] {
    const rows = this.#sql.active.all() as { id: string; state: string }[];
    return rows.map((row) => ({
      id: row.id as BackendName,
      state: BackendState.parse(JSON.parse(row.state)),
    }));
  }

  backendState(backendId: BackendName): BackendState | null {
    const row = this.#sql.backendState.get(backendId) as
      | { state: string }
      | undefined;
    return row ? BackendState.parse(JSON.parse(row.state)) : null;
  }

  close(): void {
    this.clearListener();
    this.#db.close();
  }
}
