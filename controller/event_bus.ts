/**
 * Fans database events out to subscribers in this process (plane-0.5.md §1.4): one LISTEN
 * connection; each NOTIFY names an event id, kind and key; events with subscribers are read
 * from the `event` table in batches and delivered in id order. After the listening connection
 * is re-established, events written meanwhile are replayed from the table, deduplicated by id;
 * notifications wait for the replay so delivery stays in id order, and reads the database
 * failed (it may be restarting) are retried.
 */
import {
  type Database,
  EVENT_CHANNEL,
  type EventKind,
  type EventRecord,
  eventsAfter,
  eventsByIds,
  latestEventId,
} from "./db/mod.ts";
import { delay, type Logger } from "../shared/mod.ts";

export type EventHandler = (event: EventRecord) => void;

/** Events are replayed from this many ids before the highest seen, to catch late commits. */
const REPLAY_WINDOW = 1000;
const SEEN_LIMIT = 20_000;
/** Pause before reading again after the database failed a read. */
const RETRY_MS = 200;

export interface EventBus {
  /** Delivers events of `kind` (with `key`, or every key when `key` is null). Returns unsubscribe. */
  subscribe(kind: EventKind, key: string | null, handler: EventHandler): () => void;
  close(): Promise<void>;
}

export async function createEventBus(db: Database, log: Logger): Promise<EventBus> {
  const handlers = new Map<string, Set<EventHandler>>();
  /** Ids delivered (or skipped as unwanted), so a replay and a notification never both count. */
  const seen = new Set<number>();
  let highest = 0;
  let connectedOnce = false;
  /** Notified ids not yet delivered. */
  let pending: number[] = [];
  let flushing: Promise<void> | null = null;
  /** While a replay runs, notifications wait for it, so delivery stays in id order. */
  let replaying: Promise<void> | null = null;
  /** Another replay is due once the running one ends (the listener reconnected again). */
  let replayAgain = false;
  let flushRetry: ReturnType<typeof setTimeout> | undefined;
  let wakeReplay: (() => void) | null = null;
  let closed = false;

  function slot(kind: string, key: string | null) {
    return key === null ? `${kind}\u0000*` : `${kind}\u0000${key}`;
  }
  function wanted(kind: string, key: string | null): boolean {
    return handlers.has(slot(kind, null)) || (key !== null && handlers.has(slot(kind, key)));
  }
  function markSeen(id: number): boolean {
    if (seen.has(id)) return false;
    seen.add(id);
    if (seen.size > SEEN_LIMIT) {
      // Sets iterate in insertion order: drop the oldest half.
      let drop = SEEN_LIMIT / 2;
      for (const old of seen) {
        if (drop-- <= 0) break;
        seen.delete(old);
      }
    }
    if (id > highest) highest = id;
    return true;
  }
  function deliver(event: EventRecord) {
    const targets = [...(handlers.get(slot(event.kind, null)) ?? [])];
    if (event.key !== null) targets.push(...(handlers.get(slot(event.kind, event.key)) ?? []));
    for (const handler of targets) {
      try {
        handler(event);
      } catch (err) {
        log.error("Event handler failed", { err, eventId: event.id, kind: event.kind });
      }
    }
  }
  function flush(): Promise<void> {
    if (flushing) return flushing;
    flushing = (async () => {
      while (pending.length > 0 && !closed && !replaying) {
        const ids = pending.filter((id) => !seen.has(id));
        pending = [];
        if (ids.length === 0) continue;
        try {
          for (const event of await eventsByIds(db, ids)) {
            if (markSeen(event.id)) deliver(event);
          }
        } catch (err) {
          // Not marked seen: read again shortly (a replay would also find them).
          log.error("Could not read events", { err, count: ids.length });
          pending = [...ids, ...pending];
          if (!closed) flushRetry = setTimeout(() => void flush(), RETRY_MS);
          return;
        }
      }
    })().finally(() => (flushing = null));
    return flushing;
  }
  async function replayOnce() {
    const from = Math.max(0, highest - REPLAY_WINDOW);
    let after = from;
    for (;;) {
      const batch = await eventsAfter(db, after, 500);
      for (const event of batch) {
        after = event.id;
        if (markSeen(event.id) && wanted(event.kind, event.key)) deliver(event);
      }
      if (batch.length < 500) break;
    }
  }
  /** Replays until a pass succeeds (the database may be restarting), then flushes what waited. */
  function replay() {
    if (replaying) {
      replayAgain = true;
      return;
    }
    replaying = (async () => {
      // A read in flight holds older ids than anything the replay finds: let it deliver first.
      await flushing;
      do {
        replayAgain = false;
        try {
          await replayOnce();
        } catch (err) {
          log.error("Event replay failed; retrying", { err });
          replayAgain = true;
          const wake = new AbortController();
          wakeReplay = () => wake.abort();
          await delay(RETRY_MS, { signal: wake.signal });
          wakeReplay = null;
        }
      } while (replayAgain && !closed);
    })().finally(() => {
      replaying = null;
      // Notifications that arrived meanwhile, minus what the replay delivered.
      void flush();
    });
  }

  const stop = await db.listen(EVENT_CHANNEL, {
    onNotify(payload) {
      let note: { id: number; kind: string; key: string | null };
      try {
        note = JSON.parse(payload);
      } catch {
        log.warn("Ignoring a malformed event notification", { payload });
        return;
      }
      if (seen.has(note.id)) return;
      if (!wanted(note.kind, note.key)) {
        markSeen(note.id);
        return;
      }
      pending.push(note.id);
      if (!replaying) queueMicrotask(() => void flush());
    },
    onConnect() {
      if (!connectedOnce) {
        connectedOnce = true;
        return;
      }
      log.info("Event listener reconnected; replaying missed events", { after: highest });
      replay();
    },
  });
  // Replay after a reconnect starts near the end of the log as it was when we began
  // listening: subscribers want what happens from now on.
  highest = Math.max(highest, await latestEventId(db));

  return {
    subscribe(kind, key, handler) {
      const s = slot(kind, key);
      let set = handlers.get(s);
      if (!set) handlers.set(s, set = new Set());
      set.add(handler);
      return () => {
        set.delete(handler);
        if (set.size === 0 && handlers.get(s) === set) handlers.delete(s);
      };
    },
    async close() {
      closed = true;
      clearTimeout(flushRetry);
      wakeReplay?.();
      await stop();
      await flushing;
      await replaying;
    },
  };
}
