/**
 * `plane dns` as users run it (plane-0.5.md §10.2): a subprocess with deno.json's permissions,
 * dialling a controller, answering TXT queries over UDP and TCP from the lease table, REFUSED
 * outside its zone, and still answering after a corpus of malformed packets.
 */
import assert from "node:assert/strict";
import { startTestController, type TestController } from "../controller/testing/test_controller.ts";
import { connectFakePeer, isVariant } from "../controller/testing/fake_peer.ts";
import type { MessageFromProxy } from "../shared/protocol.ts";
import { randomProxyName } from "../shared/names.ts";
import { waitFor } from "../testing/wait_for.ts";
import { type PlaneProcess, runPlane, startPlane } from "./plane_process.ts";
import { askTcp, askUdp, decodeReply, encodeQuery, txtValues } from "../dns/testing/dns_client.ts";

const ZONE = "acme.plane.test";
const CLUSTER = "c1.example.test";
const CHALLENGE = `${CLUSTER}.${ZONE}`;

async function startDnsProcess(t: TestController): Promise<{ dns: PlaneProcess; port: number }> {
  const dns = await startPlane("dns", [
    "--controller-url",
    t.url,
    "--zone",
    ZONE,
    "--port",
    "0",
    "--hostname",
    "127.0.0.1",
  ], { ready: (l) => l.message === "DNS server listening" });
  const port = Number(dns.logs.find((l) => l.message === "DNS server listening")!.port);
  await dns.waitForLog((l) => l.message === "Connected to the controller");
  return { dns, port };
}

/** A proxy of CLUSTER takes the lease and sets `value` as the cluster's TXT record. */
async function setTxt(t: TestController, value: string) {
  const proxy = await connectFakePeer<MessageFromProxy>({
    controllerUrl: t.url,
    path: `/ctrl/c/${CLUSTER}/proxy-socket`,
    name: randomProxyName(),
  });
  const leased = proxy.next(isVariant("CertManagerResponse"));
  proxy.send({ CertManagerRequest: "CertLeaseRequest" });
  assert.deepEqual(await leased, {
    CertManagerResponse: { CertLeaseResponse: { accepted: true } },
  });
  const set = proxy.next(isVariant("CertManagerResponse"));
  proxy.send({ CertManagerRequest: { SetTxtRecord: { "txt_value": value } } });
  await set;
  return proxy;
}

Deno.test("plane dns answers TXT over UDP and TCP, REFUSED outside its zone", async () => {
  await using t = await startTestController();
  const { dns, port } = await startDnsProcess(t);
  await using _dns = dns;
  const empty = decodeReply((await askUdp(port, encodeQuery(CHALLENGE)))!);
  assert.equal(empty.rcode, "NOERROR");
  assert.deepEqual(txtValues(empty), []);

  await using _proxy = await setTxt(t, "challenge-value-1");
  const udp = decodeReply((await askUdp(port, encodeQuery(CHALLENGE)))!);
  assert.equal(udp.rcode, "NOERROR");
  assert.equal(udp.flag_aa, true);
  assert.deepEqual(txtValues(udp), ["challenge-value-1"]);
  // The challenge name itself, as a CA asks a server it is pointed at directly.
  const direct = decodeReply(
    (await askUdp(port, encodeQuery(`_acme-challenge.c2.${ZONE}`)))!,
  );
  assert.equal(direct.rcode, "NOERROR");

  const [first, second, outside] = (await askTcp(port, [
    encodeQuery(CHALLENGE, { id: 1 }),
    encodeQuery(CHALLENGE.toUpperCase(), { id: 2 }),
    encodeQuery("www.example.test", { id: 3 }),
  ])).map(decodeReply);
  assert.deepEqual([first!.id, second!.id, outside!.id], [1, 2, 3]);
  assert.deepEqual(txtValues(first!), ["challenge-value-1"]);
  assert.deepEqual(txtValues(second!), ["challenge-value-1"]);
  assert.equal(outside!.rcode, "REFUSED");
  assert.equal(decodeReply((await askUdp(port, encodeQuery("example.test")))!).rcode, "REFUSED");
  assert.equal(
    decodeReply((await askUdp(port, encodeQuery(CHALLENGE, { type: "A" })))!).rcode,
    "NOTIMP",
  );
});

/** A deterministic PRNG (mulberry32), so a failing corpus can be reproduced. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let r = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random bytes, truncations, bit flips of a valid query, label and pointer loops. */
function malformedCorpus(count: number): Uint8Array[] {
  const random = prng(14);
  const valid = encodeQuery(CHALLENGE);
  const corpus: Uint8Array[] = [
    new Uint8Array(0),
    new Uint8Array(11),
    // Header claiming 65535 questions with no body.
    new Uint8Array([0, 1, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0]),
    // A compression pointer to itself (RFC 1035 §4.1.4).
    new Uint8Array([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 16, 0, 1]),
    // A label length running past the end.
    new Uint8Array([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 63, 97, 98]),
  ];
  while (corpus.length < count) {
    const kind = random();
    if (kind < 0.3) {
      corpus.push(crypto.getRandomValues(new Uint8Array(Math.floor(random() * 600))));
    } else if (kind < 0.5) {
      corpus.push(valid.slice(0, Math.floor(random() * valid.length)));
    } else {
      const flipped = valid.slice();
      for (let i = 0, n = 1 + Math.floor(random() * 6); i < n; i++) {
        const at = Math.floor(random() * flipped.length);
        flipped[at] = flipped[at]! ^ (1 << Math.floor(random() * 8));
      }
      corpus.push(flipped);
    }
  }
  return corpus;
}

Deno.test("plane dns keeps answering after a fuzzed corpus of malformed packets", async () => {
  await using t = await startTestController();
  const { dns, port } = await startDnsProcess(t);
  await using _dns = dns;
  await using _proxy = await setTxt(t, "still-here");
  const corpus = malformedCorpus(2_000);
  const udp = (await import("node:dgram")).default.createSocket("udp4");
  try {
    for (const packet of corpus) {
      await new Promise<void>((resolve) => udp.send(packet, port, "127.0.0.1", () => resolve()));
    }
  } finally {
    udp.close();
  }
  // Over TCP too: framed garbage on one connection, then a connection that lies about length.
  const framedGarbage = await Deno.connect({ hostname: "127.0.0.1", port });
  for (const packet of corpus.slice(0, 200)) {
    await framedGarbage.write(new Uint8Array([packet.length >> 8, packet.length & 0xff]));
    await framedGarbage.write(packet);
  }
  framedGarbage.close();
  const liar = await Deno.connect({ hostname: "127.0.0.1", port });
  await liar.write(new Uint8Array([0xff, 0xff, 1, 2, 3]));
  liar.close();

  await waitFor(async () => {
    const reply = await askUdp(port, encodeQuery(CHALLENGE), 1_000);
    return reply !== null && txtValues(decodeReply(reply))[0] === "still-here";
  }, { message: "an answer after the corpus", timeoutMs: 20_000 });
  const [tcp] = await askTcp(port, [encodeQuery(CHALLENGE)]);
  assert.deepEqual(txtValues(decodeReply(tcp!)), ["still-here"]);
  assert.equal(
    dns.logs.filter((l) => l.level === "error").length,
    0,
    `no errors logged: ${JSON.stringify(dns.logs.filter((l) => l.level === "error"))}`,
  );
});

Deno.test("plane put-dummy-dns sets a TXT value that plane dns then answers (wiring check)", async () => {
  await using t = await startTestController();
  const { dns, port } = await startDnsProcess(t);
  await using _dns = dns;
  const run = await runPlane(["put-dummy-dns", "--cluster", CLUSTER, "--controller", t.url]);
  assert.equal(run.code, 0, run.stderr);
  const value = /to (plane-dummy-dns-\S+)/.exec(run.stdout)?.[1];
  assert.ok(value, run.stdout);
  assert.match(run.stdout, /dig TXT _acme-challenge\.c1\.example\.test/);
  const reply = decodeReply((await askUdp(port, encodeQuery(CHALLENGE)))!);
  assert.deepEqual(txtValues(reply), [value]);
  // The lease is held for a minute: a second check is refused with the reason.
  const again = await runPlane(["put-dummy-dns", "--cluster", CLUSTER, "--controller", t.url]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /a proxy holds it; retry in a minute/);
});
