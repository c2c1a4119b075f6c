import assert from "node:assert/strict";
import { type CertLink, type CertManagerResponse, startCertManager } from "./cert_manager.ts";
import { AcmeError, type AcmeOrderer } from "./acme_order.ts";
import { parseCertFile } from "./tls.ts";
import { createLogger } from "../shared/log.ts";
import type { MessageFromProxy } from "../shared/protocol.ts";
import { waitFor } from "../testing/wait_for.ts";

const CLUSTER = "plane.test";
const testdata = (name: string) => new URL(`./testdata/${name}`, import.meta.url);
const PAIR = JSON.parse(Deno.readTextFileSync(testdata("cert1.json")));

/** A controller socket that answers lease requests from `leases` in turn (then accepts). */
function fakeLink(leases: boolean[]) {
  const sent: MessageFromProxy[] = [];
  let respond: (r: CertManagerResponse) => void = () => {};
  const link: CertLink = {
    connected: true,
    send(message) {
      sent.push(message);
      if (!("CertManagerRequest" in message)) return true;
      const request = message.CertManagerRequest;
      if (request === "CertLeaseRequest") {
        queueMicrotask(() => respond({ CertLeaseResponse: { accepted: leases.shift() ?? true } }));
      } else if (typeof request === "object") {
        queueMicrotask(() => respond({ SetTxtRecordResponse: { accepted: true } }));
      }
      return true;
    },
  };
  return { link, sent, onResponse: (f: typeof respond) => (respond = f) };
}

function tempPath() {
  return `${Deno.makeTempDirSync({ prefix: "cert-manager-" })}/cert.json`;
}

Deno.test("cert manager: retries a refused lease, publishes the TXT value, writes 0600 atomically, releases the lease", async () => {
  const certPath = tempPath();
  const published: string[] = [];
  const orderer: AcmeOrderer = {
    async obtain(cluster, publishTxt) {
      assert.equal(cluster, CLUSTER);
      assert.equal(await publishTxt("digest-1"), true);
      published.push("digest-1");
      return PAIR;
    },
  };
  const { link, sent, onResponse } = fakeLink([false]);
  const manager = startCertManager({
    cluster: CLUSTER,
    certPath,
    orderer,
    leaseRetryMs: 10,
    log: createLogger("certs", { level: "error" }),
  });
  onResponse((r) => manager.onResponse(r));
  manager.attach(link);
  try {
    await waitFor(
      () =>
        sent.some((m) => "CertManagerRequest" in m && m.CertManagerRequest === "ReleaseCertLease"),
      {
        message: "lease released after the order",
      },
    );
    assert.deepEqual(sent, [
      { CertManagerRequest: "CertLeaseRequest" },
      { CertManagerRequest: "CertLeaseRequest" },
      { CertManagerRequest: { SetTxtRecord: { "txt_value": "digest-1" } } },
      { CertManagerRequest: "ReleaseCertLease" },
    ]);
    assert.deepEqual(parseCertFile(await Deno.readTextFile(certPath)), PAIR);
    assert.equal((await Deno.stat(certPath)).mode! & 0o777, 0o600);
    const dir = certPath.slice(0, certPath.lastIndexOf("/"));
    const names = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    assert.deepEqual(names, ["cert.json"], "no temporary file left");
  } finally {
    await manager.close();
  }
});

Deno.test("cert manager: a failed order is logged with the problem document and retried", async () => {
  const certPath = tempPath();
  let attempts = 0;
  const orderer: AcmeOrderer = {
    obtain() {
      attempts++;
      if (attempts === 1) {
        return Promise.reject(
          new AcmeError("ACME order for plane.test failed: rate limited", {
            problem: { type: "urn:ietf:params:acme:error:rateLimited", status: 429 },
          }),
        );
      }
      return Promise.resolve(PAIR);
    },
  };
  const lines: Record<string, unknown>[] = [];
  const log = createLogger("certs", {
    level: "info",
    write: (line) => lines.push(JSON.parse(line)),
  });
  const { link, onResponse } = fakeLink([]);
  const manager = startCertManager({
    cluster: CLUSTER,
    certPath,
    orderer,
    backoffInitialMs: 10,
    log,
  });
  onResponse((r) => manager.onResponse(r));
  manager.attach(link);
  try {
    await waitFor(() => lines.some((l) => l.message === "Certificate obtained"), {
      message: "the retry succeeds",
    });
    const failure = lines.find((l) => l.message === "Cannot obtain a certificate; retrying later");
    assert.deepEqual(failure?.problem, {
      type: "urn:ietf:params:acme:error:rateLimited",
      status: 429,
    });
    assert.equal(attempts, 2);
  } finally {
    await manager.close();
  }
});
