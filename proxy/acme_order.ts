/**
 * One ACME DNS-01 order for a cluster's certificate (plane-0.5.md §10.4 steps 2 and 4–6;
 * RFC 8555), through `acme-client`: the account is created on first use only (a proxy with a
 * valid certificate never needs the ACME server at start, #829), then an order for `cluster`
 * and `*.cluster`, each authorization validated in turn through the one TXT slot the caller
 * publishes, a fresh key and CSR, finalize, and the chain.
 *
 * Differences from Plane: the key is ECDSA P-256 rather than RSA 4096 (generated in
 * milliseconds, accepted by every current CA and client); the wait for the TXT value to be
 * served is 2 s rather than 15 s, since `plane dns` answers straight from the controller's
 * table with a 1 s TTL (only a resolver's copy of a previous value can be stale). Errors carry
 * the ACME server's problem document (RFC 8555 §6.7), which acme-client reduces to its detail.
 */
import acme from "acme-client";
import https from "node:https";
import type { CertPair } from "./tls.ts";
import { delay, type Logger } from "../shared/mod.ts";

export interface AcmeSettings {
  /** ACME directory URL (`--acme-endpoint`). */
  directoryUrl: string;
  /** Account contact (`--acme-email`). */
  email: string;
  /** External account binding (RFC 8555 §7.3.4); the HMAC key is base64url. */
  eab?: { kid: string; hmacKey: string } | undefined;
  /** PEM CA certificates to trust for the ACME server's own TLS (a test CA such as Pebble's). */
  caCerts?: string | undefined;
}

/** An ACME failure with the server's problem document, when it sent one. */
export class AcmeError extends Error {
  readonly problem: unknown;
  constructor(message: string, options: { cause?: unknown; problem?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "AcmeError";
    this.problem = options.problem ?? null;
  }
}

export interface AcmeOrderer {
  /**
   * Orders a certificate for `cluster` and `*.cluster`; `publishTxt` must make the value the
   * answer to `_acme-challenge.<cluster>` TXT queries (false: it could not, e.g. lease lost).
   */
  obtain(
    cluster: string,
    publishTxt: (value: string) => Promise<boolean>,
    options?: { signal?: AbortSignal },
  ): Promise<CertPair>;
}

type AcmeAuthorization = Awaited<ReturnType<acme.Client["getAuthorizations"]>>[number];

/** The last problem document (`application/problem+json`) the ACME server sent. */
let lastProblem: unknown = null;
let interceptorInstalled = false;

function installProblemRecorder() {
  if (interceptorInstalled) return;
  interceptorInstalled = true;
  // acme-client keeps only the problem's `detail`; the whole document goes to the log.
  acme.axios.interceptors.response.use((response) => {
    const type = String(response.headers?.["content-type"] ?? "");
    if (type.includes("problem+json")) lastProblem = response.data;
    return response;
  });
}

export function createAcmeOrderer(
  settings: AcmeSettings,
  deps: { log: Logger; propagationMs?: number },
): AcmeOrderer {
  const { log } = deps;
  const propagationMs = deps.propagationMs ?? 2_000;
  installProblemRecorder();
  if (settings.caCerts !== undefined) {
    // acme-client talks through one shared axios instance; this process has one ACME client.
    acme.axios.defaults.httpsAgent = new https.Agent({ ca: settings.caCerts });
  }
  let client: acme.Client | null = null;

  async function account(): Promise<acme.Client> {
    if (client !== null) return client;
    const created = new acme.Client({
      directoryUrl: settings.directoryUrl,
      accountKey: await acme.crypto.createPrivateEcdsaKey(),
      ...(settings.eab && {
        externalAccountBinding: { kid: settings.eab.kid, hmacKey: settings.eab.hmacKey },
      }),
    });
    await created.createAccount({
      termsOfServiceAgreed: true,
      contact: [`mailto:${settings.email}`],
    });
    log.info("ACME account created", { directory: settings.directoryUrl });
    client = created;
    return created;
  }

  async function validate(
    c: acme.Client,
    authz: AcmeAuthorization,
    publishTxt: (value: string) => Promise<boolean>,
    signal: AbortSignal | undefined,
  ) {
    if (authz.status === "valid") return;
    const challenge = authz.challenges.find((ch) => ch.type === "dns-01");
    if (challenge === undefined) {
      throw new AcmeError(`Cannot validate ${authz.identifier.value}: no dns-01 challenge offered`);
    }
    // For dns-01 this is the base64url SHA-256 digest of the key authorization (RFC 8555 §8.4).
    const value = await c.getChallengeKeyAuthorization(challenge);
    if (!(await publishTxt(value))) {
      throw new AcmeError("Cannot publish the challenge: the controller refused the TXT record");
    }
    await delay(propagationMs, { signal });
    signal?.throwIfAborted();
    await c.completeChallenge(challenge);
    await c.waitForValidStatus(challenge);
  }

  return {
    async obtain(cluster, publishTxt, options = {}) {
      const { signal } = options;
      const host = cluster.replace(/:\d+$/, "");
      lastProblem = null;
      try {
        const c = await account();
        const order = await c.createOrder({
          identifiers: [{ type: "dns", value: host }, { type: "dns", value: `*.${host}` }],
        });
        // One at a time: the cluster has a single TXT slot (plane-0.5.md §10.4 step 5).
        for (const authz of await c.getAuthorizations(order)) {
          signal?.throwIfAborted();
          await validate(c, authz, publishTxt, signal);
        }
        const [key, csr] = await acme.crypto.createCsr(
          { commonName: host, altNames: [host, `*.${host}`] },
          await acme.crypto.createPrivateEcdsaKey(),
        );
        const finalized = await c.finalizeOrder(order, csr);
        const cert = await c.getCertificate(finalized);
        return { cert, key: key.toString() };
      } catch (err) {
        if (err instanceof AcmeError) throw err;
        const message = err instanceof Error ? err.message : String(err);
        throw new AcmeError(`ACME order for ${host} failed: ${message}`, {
          cause: err,
          problem: lastProblem,
        });
      }
    },
  };
}
