import assert from "node:assert/strict";
import { proxySocketUrl, startControllerLink } from "./controller_link.ts";
import { startFakeController } from "./testing/fake_controller.ts";
import { waitFor } from "../testing/wait_for.ts";
import { createLogger } from "../shared/log.ts";
import type { MessageToProxy } from "../shared/protocol.ts";

const log = createLogger("test", { level: "error" });
const FAST = { backoffInitialMs: 20, backoffMaxMs: 100 };

Deno.test("proxySocketUrl() builds the proxy socket URL and takes the bearer from the username", () => {
  assert.deepEqual(proxySocketUrl("http://127.0.0.1:8080", "localhost:9090"), {
    url: "ws://127.0.0.1:8080/ctrl/c/localhost%3A9090/proxy-socket",
    bearer: null,
  });
  assert.deepEqual(proxySocketUrl("https://s3cret@plane.example.com/base/", "c1.example.com"), {
    url: "wss://plane.example.com/base/ctrl/c/c1.example.com/proxy-socket",
    bearer: "s3cret",
  });
  // A path-routing proxy declares it, as a drone's pool rides on its socket URL (issue 10).
  assert.deepEqual(proxySocketUrl("http://127.0.0.1:8080", "localhost:9090", true), {
    url: "ws://127.0.0.1:8080/ctrl/c/localhost%3A9090/proxy-socket?path_routing=true",
    bearer: null,
  });
});

Deno.test("startControllerLink() handshakes with its name and bearer, then delivers messages", async () => {
  await using fake = startFakeController();
  const messages: MessageToProxy[] = [];
  let connects = 0;
  const url = fake.url.replace("http://", "http://urlsecret@");
  const link = startControllerLink(
    { controllerUrl: url, cluster: "plane.test", name: "px-test", ...FAST },
    { onConnected: () => connects++, onMessage: (m) => messages.push(m) },
    { log },
  );
  try {
    await waitFor(() => link.connected, { message: "link connected" });
    assert.equal(connects, 1);
    assert.deepEqual(fake.peers, [
      { name: "px-test", authorization: "Bearer urlsecret", cluster: "plane.test" },
    ]);
    fake.send({ BackendRemoved: { backend: "b1" as never } });
    // Unparseable messages are skipped and the connection stays up (plane-0.5.md §1.3).
    fake.send({ Bogus: 1 } as never);
    fake.send({ TokenRevoked: { token: "t" } });
    await waitFor(() => messages.length === 2, { message: "two messages" });
    assert.deepEqual(messages, [
      { BackendRemoved: { backend: "b1" } },
      { TokenRevoked: { token: "t" } },
    ]);
    assert.equal(link.send({ KeepAlive: "b1" as never }), true);
    await fake.next((m) => "KeepAlive" in m);
  } finally {
    await link.close();
  }
  assert.equal(link.connected, false);
  assert.equal(link.send({ KeepAlive: "b1" as never }), false);
});

Deno.test("startControllerLink() prefers the configured secret over the URL's username", async () => {
  await using fake = startFakeController();
  const link = startControllerLink(
    {
      controllerUrl: fake.url.replace("http://", "http://urlsecret@"),
      cluster: "plane.test",
      name: "px-test",
      secret: "flagsecret",
      ...FAST,
    },
    { onConnected() {}, onMessage() {} },
    { log },
  );
  try {
    await waitFor(() => link.connected, { message: "link connected" });
    assert.equal(fake.peers[0]?.authorization, "Bearer flagsecret");
  } finally {
    await link.close();
  }
});

Deno.test("startControllerLink() retries a refusing controller and reconnects after a drop", async () => {
  await using fake = startFakeController();
  fake.refuse = true;
  let connects = 0;
  const link = startControllerLink(
    { controllerUrl: fake.url, cluster: "plane.test", name: "px-test", ...FAST },
    { onConnected: () => connects++, onMessage() {} },
    { log },
  );
  try {
    await waitFor(() => fake.refused >= 2, { message: "two refused attempts" });
    assert.equal(link.connected, false);
    fake.refuse = false;
    await waitFor(() => link.connected, { message: "link connected" });
    fake.dropConnections();
    await waitFor(() => !link.connected, { message: "link down" });
    await waitFor(() => link.connected && connects === 2, { message: "link reconnected" });
    assert.equal(link.connections, 2);
  } finally {
    await link.close();
  }
});

Deno.test("startControllerLink() rebalances by reconnecting on its own", async () => {
  await using fake = startFakeController();
  const link = startControllerLink(
    {
      controllerUrl: fake.url,
      cluster: "plane.test",
      name: "px-test",
      ...FAST,
      rebalanceMinMs: 50,
      rebalanceMaxMs: 60,
    },
    { onConnected() {}, onMessage() {} },
    { log },
  );
  try {
    await waitFor(() => link.connections >= 2, { message: "a second connection" });
  } finally {
    await link.close();
  }
});
