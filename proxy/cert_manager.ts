/**
 * The proxy's certificate manager (plane-0.5.md §10.3, §10.4; issue 14): keeps the
 * certificate file at `certPath` valid by ordering a new certificate over ACME DNS-01 when
 * less than a third of the current one's lifetime is left (or there is none). Each order runs
 * under the cluster's lease in the controller, so a cluster's proxies take turns; the TXT value
 * goes to the controller, where `plane dns` reads it. The file is replaced atomically (write,
 * then rename) and the HTTPS listeners reload it for new handshakes while open connections keep
 * theirs (`serve.ts`). Failures are logged with the ACME problem document and retried with
 * backoff (30 s doubling to an hour).
 *
 * Differences from Plane: the lease is released once the order ends (Plane lets it age out for
 * a minute), so another proxy of the cluster can start at once; a refused lease is asked again
 * after 10 s rather than 60 s.
 */
import type { AcmeOrderer } from "./acme_order.ts";
import { AcmeError } from "./acme_order.ts";
import { certValidity, renewAt } from "./cert_validity.ts";
import type { CertPair } from "./tls.ts";
import { parseCertFile } from "./tls.ts";
import {
  Backoff,
  delay,
  type Logger,
  type MessageFromProxy,
  type MessageToProxy,
} from "../shared/mod.ts";

export type CertManagerResponse = Extract<
  MessageToProxy,
  { CertManagerResponse: unknown }
>["CertManagerResponse"];

type ResponseKind = "CertLeaseResponse" | "SetTxtRecordResponse";

/** What the manager needs from the proxy's controller socket. */
export interface CertLink {
  readonly connected: boolean;
  send(message: MessageFromProxy): boolean;
}

/** The proxy side (`createProxy`, the worker pool) feeds these from its controller socket. */
export interface CertLinkClient {
  attach(link: CertLink): void;
  onConnected(): void;
  onResponse(response: CertManagerResponse): void;
}

export interface CertManagerOptions {
  cluster: string;
  certPath: string;
  orderer: AcmeOrderer;
  log: Logger;
  /** Wait after a refused lease (10 s). */
  leaseRetryMs?: number;
  /** First wait after a failed order, doubled each failure up to `backoffMaxMs` (30 s, 1 h). */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Longest wait for the controller's answer to a lease request (30 s). */
  answerTimeoutMs?: number;
}

export interface CertManager extends CertLinkClient {
  close(): Promise<void>;
}

/**
 * Writes the certificate file atomically with mode 0600 (plane-0.5.md §10.4: it holds the private
 * key).
 */
export async function writeCertFile(path: string, pair: CertPair): Promise<void> {
  const temporary = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    await Deno.writeTextFile(temporary, JSON.stringify(pair), { mode: 0o600 });
    await Deno.rename(temporary, path);
  } catch (err) {
    await Deno.remove(temporary).catch(() => {});
    throw err;
  }
}

/** The current file's renewal time (0: renew now). */
async function currentRenewAt(path: string, cluster: string): Promise<number> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return 0;
  }
  const pair = parseCertFile(text);
  return renewAt(pair instanceof Error ? pair : certValidity(pair.cert, cluster));
}

export function startCertManager(options: CertManagerOptions): CertManager {
  const { cluster, certPath, orderer, log } = options;
  const leaseRetryMs = options.leaseRetryMs ?? 10_000;
  const answerTimeoutMs = options.answerTimeoutMs ?? 30_000;
  const stop = new AbortController();
  const signal = stop.signal;
  let link: CertLink | null = null;
  let connectedWake: (() => void) | null = null;
  /** The one request awaiting the controller's answer (requests are made one at a time). */
  let pending: { kind: ResponseKind; resolve(accepted: boolean): void } | null = null;

  function ask(
    message: MessageFromProxy,
    kind: ResponseKind,
  ): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(false), answerTimeoutMs);
      function finish(accepted: boolean) {
        clearTimeout(timer);
        if (pending?.resolve === finish) pending = null;
        resolve(accepted);
      }
      pending = { kind, resolve: finish };
      if (link === null || !link.send(message)) finish(false);
    });
  }

  async function untilConnected() {
    while (!signal.aborted && !(link?.connected ?? false)) {
      await new Promise<void>((resolve) => {
        connectedWake = resolve;
        signal.addEventListener("abort", () => resolve(), { once: true });
      });
    }
  }

  /** One lease-guarded order; "refused" when another proxy holds the lease. */
  async function renewOnce(): Promise<"done" | "refused"> {
    if (!(await ask({ CertManagerRequest: "CertLeaseRequest" }, "CertLeaseResponse"))) {
      return "refused";
    }
    const started = Date.now();
    log.info("Obtaining a certificate", { cluster });
    try {
      const pair = await orderer.obtain(
        cluster,
        (value) =>
          ask(
            { CertManagerRequest: { SetTxtRecord: { "txt_value": value } } },
            "SetTxtRecordResponse",
          ),
        { signal },
      );
      await writeCertFile(certPath, pair);
      const validity = certValidity(pair.cert, cluster);
      log.info("Certificate obtained", {
        cluster,
        path: certPath,
        ms: Date.now() - started,
        ...(!(validity instanceof Error) && {
          notAfter: new Date(validity.notAfter).toISOString(),
          serial: validity.serialNumber,
        }),
      });
      return "done";
    } finally {
      // Another proxy of the cluster may start now rather than after the minute (plane-0.5.md
      // §10.3).
      link?.send({ CertManagerRequest: "ReleaseCertLease" });
    }
  }

  const loop = (async () => {
    const backoff = new Backoff({
      initialMs: options.backoffInitialMs ?? 30_000,
      maxMs: options.backoffMaxMs ?? 3_600_000,
    });
    while (!signal.aborted) {
      const due = await currentRenewAt(certPath, cluster);
      if (due > Date.now()) {
        await delay(due - Date.now(), { signal });
        continue;
      }
      await untilConnected();
      if (signal.aborted) break;
      try {
        const result = await renewOnce();
        if (result === "refused") {
          log.info("Certificate lease held by another proxy; retrying", { cluster });
          await delay(leaseRetryMs, { signal });
          continue;
        }
        backoff.reset();
      } catch (err) {
        if (signal.aborted) break;
        const waitMs = backoff.next();
        log.error("Cannot obtain a certificate; retrying later", {
          cluster,
          err,
          problem: err instanceof AcmeError ? err.problem : null,
          retryInMs: waitMs,
        });
        await delay(waitMs, { signal });
      }
    }
  })();

  return {
    attach(l) {
      link = l;
      if (l.connected) connectedWake?.();
    },
    onConnected() {
      connectedWake?.();
    },
    onResponse(response) {
      const [kind, accepted] = "CertLeaseResponse" in response
        ? ["CertLeaseResponse", response.CertLeaseResponse.accepted] as const
        : ["SetTxtRecordResponse", response.SetTxtRecordResponse.accepted] as const;
      if (pending?.kind === kind) pending.resolve(accepted);
    },
    async close() {
      stop.abort();
      pending?.resolve(false);
      await loop;
    },
  };
}
