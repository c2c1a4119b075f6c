import assert from "node:assert/strict";
import {
  ConnectionCap,
  defaultMaxConnections,
  parseSoftDescriptorLimit,
  refusedResponse,
} from "./connection_cap.ts";

Deno.test("ConnectionCap admits up to its limit across worker slots, and a dead worker's slot is forgotten", () => {
  const first = new ConnectionCap(3, { slots: 2 });
  const second = new ConnectionCap(3, { buffer: first.buffer, slot: 1 });
  assert.ok(first.tryAcquire());
  assert.ok(second.tryAcquire());
  assert.ok(second.tryAcquire());
  assert.equal(first.tryAcquire(), false, "the two slots add up to the limit");
  assert.equal(second.tryAcquire(), false);
  assert.equal(first.open, 3, "a refusal takes nothing");
  first.release();
  assert.ok(second.tryAcquire());
  first.resetSlot(1);
  assert.equal(first.open, 0);
  assert.throws(() => new ConnectionCap(1, { slots: 2, slot: 2 }), /slot 2 out of 2/);
});

Deno.test("defaultMaxConnections() keeps two descriptors per connection and a reserve", () => {
  assert.equal(defaultMaxConnections(20_000), 9_968);
  assert.equal(defaultMaxConnections(1024), 480);
  assert.equal(defaultMaxConnections(10), 1);
  assert.equal(parseSoftDescriptorLimit("20000\n"), 20_000);
  assert.equal(parseSoftDescriptorLimit("unlimited\n"), null);
  assert.equal(parseSoftDescriptorLimit(""), null);
});

Deno.test("refusedResponse() is a whole 503 with the proxy's JSON error body", () => {
  const text = new TextDecoder().decode(refusedResponse());
  const [head, body] = text.split("\r\n\r\n") as [string, string];
  assert.match(head, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
  assert.match(head, /\r\nconnection: close(\r\n|$)/);
  assert.equal(
    Number(/content-length: (\d+)/.exec(head)?.[1]),
    new TextEncoder().encode(body).length,
  );
  const parsed = JSON.parse(body);
  assert.deepEqual(Object.keys(parsed).sort(), ["id", "kind", "message"]);
});
