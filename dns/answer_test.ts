import assert from "node:assert/strict";
// @ts-types="@types/dns-packet"
import * as dnsPacket from "dns-packet";
import { clusterOfName, decideQuery, TXT_TTL_SECONDS } from "./answer.ts";
import { decodeReply as decode, encodeQuery, txtValues } from "./testing/dns_client.ts";

const ZONE = "acme.example.net";

function query(name: string, type: dnsPacket.RecordType = "TXT", flags = 0): Uint8Array {
  return encodeQuery(name, { type, flags });
}

Deno.test("clusterOfName() maps the CNAME target and the challenge name to the cluster", () => {
  assert.equal(clusterOfName("c1.example.com.acme.example.net", ZONE), "c1.example.com");
  assert.equal(clusterOfName("C1.Example.COM.acme.example.net.", ZONE), "c1.example.com");
  assert.equal(clusterOfName("_acme-challenge.c1.acme.example.net", ZONE), "c1.acme.example.net");
  assert.equal(clusterOfName("acme.example.net", ZONE), null);
  assert.equal(clusterOfName("bad_label.acme.example.net", ZONE), null);
  assert.equal(clusterOfName("c1.example.com", ZONE), "outside");
  assert.equal(clusterOfName("xacme.example.net", ZONE), "outside");
});

Deno.test("decideQuery() asks for a TXT value and answers it with a 1 s TTL, authoritatively", () => {
  const decision = decideQuery(query("c1.example.com.acme.example.net"), ZONE);
  assert.equal(decision.kind, "txt");
  if (decision.kind !== "txt") return;
  assert.equal(decision.cluster, "c1.example.com");
  const answer = decode(decision.reply("token-value"));
  assert.equal(answer.id, 4242);
  assert.equal(answer.rcode, "NOERROR");
  assert.equal(answer.flag_aa, true);
  assert.equal(answer.answers?.length, 1);
  assert.equal((answer.answers![0] as dnsPacket.TxtAnswer).ttl, TXT_TTL_SECONDS);
  assert.deepEqual(txtValues(answer), ["token-value"]);
  const none = decode(decision.reply(null));
  assert.equal(none.rcode, "NOERROR");
  assert.equal(none.answers?.length, 0);
  assert.equal(decode(decision.reply("servfail")).rcode, "SERVFAIL");
});

Deno.test("decideQuery(): REFUSED outside the zone, NXDOMAIN for no cluster, NOTIMP for A", () => {
  const rcode = (bytes: Uint8Array) => {
    const d = decideQuery(bytes, ZONE);
    assert.equal(d.kind, "reply");
    return d.kind === "reply" ? decode(d.response).rcode : "";
  };
  assert.equal(rcode(query("example.com")), "REFUSED");
  assert.equal(rcode(query("_x.acme.example.net")), "NXDOMAIN");
  assert.equal(rcode(query("c1.example.com.acme.example.net", "A")), "NOTIMP");
  // Opcode 2 (STATUS).
  assert.equal(rcode(query("c1.example.com.acme.example.net", "TXT", 2 << 11)), "NOTIMP");
});

Deno.test("decideQuery() drops garbage, truncated packets and responses", () => {
  assert.equal(decideQuery(new Uint8Array([1, 2, 3]), ZONE).kind, "drop");
  const full = query("c1.example.com.acme.example.net");
  assert.equal(decideQuery(full.subarray(0, full.length - 3), ZONE).kind, "drop");
  const response = new Uint8Array(dnsPacket.encode({ type: "response", id: 1, questions: [] }));
  assert.equal(decideQuery(response, ZONE).kind, "drop");
});
