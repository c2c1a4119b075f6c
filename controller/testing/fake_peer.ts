/**
 * A fake drone or proxy: a real WebSocket client speaking the socket protocol (plane-0.5.md §1.3,
 * §6, §7.6), as Plane's own integration tests use. It records every message it receives and lets a
 * test wait for the next one matching a predicate.
 */
import { type Handshake, PLANE_HASH, PLANE_VERSION } from "../../shared/protocol.ts";

export interface FakePeer<Out> extends AsyncDisposable {
  readonly name: string;
  /** The controller's handshake answer. */
  readonly serverHandshake: Handshake;
  /** Every message received, in order. */
  readonly received: unknown[];
  send(message: Out | unknown): void;
  /** Resolves with the first message (received from now on or already queued since `since`) matching `match`. */
  next<T = unknown>(
    match: (m: unknown) => boolean,
    options?: { timeoutMs?: number; since?: number },
  ): Promise<T>;
  close(): Promise<void>;
  readonly closed: Promise<void>;
  /** How the socket closed (code and reason, as the controller sent them), once it has. */
  readonly closeEvent: { code: number; reason: string } | null;
}

export interface FakePeerOptions {
  /** `http://127.0.0.1:PORT` of the controller. */
  controllerUrl: string;
  path: string;
  name: string;
  bearer?: string;
}

export async function connectFakePeer<Out>(options: FakePeerOptions): Promise<FakePeer<Out>> {
  const url = options.controllerUrl.replace(/^http/, "ws") + options.path;
  const headers: Record<string, string> = {};
  if (options.bearer) headers.authorization = `Bearer ${options.bearer}`;
  // Deno's WebSocket accepts request headers as a second-argument option.
  const ws = new WebSocket(url, { headers } as unknown as string[]);
  const received: unknown[] = [];
  const waiters = new Set<() => void>();
  let handshake: FakePeer<Out>["serverHandshake"] | null = null;
  let resolveHandshake!: () => void;
  let rejectHandshake!: (err: Error) => void;
  const handshakeDone = new Promise<void>((res, rej) => {
    resolveHandshake = res;
    rejectHandshake = rej;
  });
  let closeEvent: FakePeer<Out>["closeEvent"] = null;
  const closed = new Promise<void>((resolve) => {
    ws.onclose = (event) => {
      closeEvent = { code: event.code, reason: event.reason };
      rejectHandshake(new Error("Socket closed before the handshake"));
      for (const w of waiters) w();
      resolve();
    };
  });
  ws.onopen = () => {
    ws.send(JSON.stringify({
      version: { version: PLANE_VERSION, git_hash: PLANE_HASH },
      name: options.name,
    }));
  };
  ws.onmessage = (e) => {
    const data = JSON.parse(String(e.data));
    if (!handshake) {
      handshake = data;
      resolveHandshake();
      return;
    }
    received.push(data);
    for (const w of waiters) w();
  };
  await handshakeDone;
  const peer: FakePeer<Out> = {
    name: options.name,
    serverHandshake: handshake!,
    received,
    send(message) {
      ws.send(typeof message === "string" ? message : JSON.stringify(message));
    },
    next<T>(match: (m: unknown) => boolean, { timeoutMs = 10_000, since = received.length } = {}) {
      return new Promise<T>((resolve, reject) => {
        let index = since;
        const check = () => {
          for (; index < received.length; index++) {
            if (match(received[index])) {
              cleanup();
              resolve(received[index] as T);
              return;
            }
          }
          if (ws.readyState === WebSocket.CLOSED) {
            cleanup();
            reject(new Error(`${options.name}: socket closed while waiting for a message`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${options.name}: no matching message within ${timeoutMs} ms`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async close() {
      if (ws.readyState !== WebSocket.CLOSED) ws.close();
      await closed;
    },
    closed,
    get closeEvent() {
      return closeEvent;
    },
    [Symbol.asyncDispose]: () => peer.close(),
  };
  return peer;
}

/** True when `m` is the externally tagged variant `tag`. */
export function isVariant(tag: string): (m: unknown) => boolean {
  return (m) => typeof m === "object" && m !== null && tag in m;
}
