import assert from "node:assert/strict";
import { startTestController, type TestController } from "./testing/test_controller.ts";
import { connectFakePeer, type FakePeer, isVariant } from "./testing/fake_peer.ts";
import type { MessageFromDns, MessageFromProxy, MessageToDns } from "../shared/protocol.ts";
import { randomDnsServerName, randomProxyName } from "../shared/names.ts";

const CLUSTER = "plane.test";

type TxtRecordResponse = Extract<MessageToDns, { TxtRecordResponse: unknown }>;

function connectDns(t: TestController, name: string = randomDnsServerName()) {
  return connectFakePeer<MessageFromDns>({ controllerUrl: t.url, path: "/ctrl/dns-socket", name });
}

async function txt(dns: FakePeer<MessageFromDns>, cluster: string): Promise<string | null> {
  const answer = dns.next<TxtRecordResponse>((m) =>
    isVariant("TxtRecordResponse")(m) &&
    (m as TxtRecordResponse).TxtRecordResponse.cluster === cluster
  );
  dns.send({ TxtRecordRequest: { cluster } });
  return (await answer).TxtRecordResponse.txt_value;
}

Deno.test("dns socket: TxtRecordRequest answers the leased cluster's value, null otherwise", async () => {
  await using t = await startTestController();
  await using dns = await connectDns(t);
  assert.equal(await txt(dns, CLUSTER), null);
  await using proxy = await connectFakePeer<MessageFromProxy>({
    controllerUrl: t.url,
    path: `/ctrl/c/${CLUSTER}/proxy-socket`,
    name: randomProxyName(),
  });
  const leased = proxy.next(isVariant("CertManagerResponse"));
  proxy.send({ CertManagerRequest: "CertLeaseRequest" });
  await leased;
  assert.equal(await txt(dns, CLUSTER), null, "leased, no value yet");
  const set = proxy.next(isVariant("CertManagerResponse"));
  proxy.send({ CertManagerRequest: { SetTxtRecord: { "txt_value": "challenge-1" } } });
  await set;
  assert.equal(await txt(dns, CLUSTER), "challenge-1");
  assert.equal(await txt(dns, "other.test"), null);
});

Deno.test("dns socket: the server is a node with a NULL cluster, one row across reconnects", async () => {
  await using t = await startTestController();
  const name = randomDnsServerName();
  {
    await using first = await connectDns(t, name);
    assert.equal(await txt(first, CLUSTER), null);
  }
  await using second = await connectDns(t, name);
  assert.equal(await txt(second, CLUSTER), null);
  const { rows } = await t.db.query<{ kind: string; cluster: string | null }>(
    "select kind, cluster from node where name = $1",
    [name],
  );
  assert.deepEqual(rows, [{ kind: "AcmeDnsServer", cluster: null }]);
});

Deno.test("dns socket: a handshake with a proxy name is refused", async () => {
  await using t = await startTestController();
  await assert.rejects(connectDns(t, randomProxyName()));
});
