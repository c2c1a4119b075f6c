/**
 * @module
 * `plane dns`'s logic (plane-0.5.md §10.2) without ports: a socket to the controller's
 * `/ctrl/dns-socket` (reconnecting forever) and `answer(bytes)`, which turns one DNS message
 * into its reply, asking the controller for TXT values. Nothing is cached: every query asks
 * again, so an answer never outlives the lease that set it. `serve.ts` binds the ports.
 */
import { decideQuery } from "./answer.ts";
import {
  type Logger,
  type MessageFromDns,
  MessageToDns,
  randomDnsServerName,
  startSocketClient,
} from "../shared/mod.ts";

export interface DnsServerOptions {
  controllerUrl: string;
  /** The zone this server is authoritative for (`--zone`). */
  zone: string;
  /** Node name, `ns-…` (default random). */
  name?: string | undefined;
  /** Cluster secret for the socket (decisions.md §3.1). */
  secret?: string | undefined;
  /** plane-0.5.md §10.2: a controller answer later than this is SERVFAIL (5 s). */
  lookupTimeoutMs?: number | undefined;
  backoffInitialMs?: number | undefined;
  backoffMaxMs?: number | undefined;
  log: Logger;
}

export interface DnsServer {
  readonly name: string;
  /** True while connected to a controller. */
  ready(): boolean;
  /** The reply to one DNS message, or null to send nothing (malformed input, a response). */
  answer(bytes: Uint8Array): Promise<Uint8Array | null>;
  close(): Promise<void>;
}

export function createDnsServer(options: DnsServerOptions): DnsServer {
  const { log } = options;
  const name = options.name ?? randomDnsServerName();
  const timeoutMs = options.lookupTimeoutMs ?? 5_000;
  /** Queries waiting for a cluster's value; one controller answer serves them all. */
  const waiting = new Map<string, Set<(value: string | null) => void>>();

  const link = startSocketClient<MessageToDns, MessageFromDns>(
    {
      controllerUrl: options.controllerUrl,
      cluster: null,
      kind: "dns-socket",
      name,
      secret: options.secret,
      schema: MessageToDns,
      backoffInitialMs: options.backoffInitialMs,
      backoffMaxMs: options.backoffMaxMs,
    },
    {
      onConnected: () => log.info("Connected to the controller", { name }),
      onMessage(message) {
        const { cluster, "txt_value": value } = message.TxtRecordResponse;
        const waiters = waiting.get(cluster);
        waiting.delete(cluster);
        for (const resolve of waiters ?? []) resolve(value);
      },
    },
    { log: log.child("link") },
  );

  function lookup(cluster: string): Promise<string | null | "servfail"> {
    return new Promise((resolve) => {
      let waiters = waiting.get(cluster);
      if (waiters === undefined) waiting.set(cluster, waiters = new Set());
      const done = (value: string | null | "servfail") => {
        clearTimeout(timer);
        waiters.delete(settle);
        if (waiters.size === 0 && waiting.get(cluster) === waiters) waiting.delete(cluster);
        resolve(value);
      };
      const settle = (value: string | null) => done(value);
      const timer = setTimeout(() => done("servfail"), timeoutMs);
      waiters.add(settle);
      // plane-0.5.md §10.2: each query asks again (the earlier request may have been lost with a
      // socket).
      if (!link.send({ TxtRecordRequest: { cluster } })) done("servfail");
    });
  }

  return {
    name,
    ready: () => link.connected,
    async answer(bytes) {
      const decision = decideQuery(bytes, options.zone);
      switch (decision.kind) {
        case "drop":
          return null;
        case "reply":
          return decision.response;
        case "txt": {
          const value = await lookup(decision.cluster);
          if (value === "servfail") {
            log.warn("TXT lookup got no answer in time", { cluster: decision.cluster });
          }
          return decision.reply(value);
        }
      }
    },
    async close() {
      for (const waiters of waiting.values()) for (const resolve of waiters) resolve(null);
      waiting.clear();
      await link.close();
    },
  };
}

// What the CLI and the other roles use from this folder (style.md §3: mod.ts is the door).
export { DnsConfig } from "./config.ts";
export type { DnsConfigInput } from "./config.ts";
export { serveDns } from "./serve.ts";
