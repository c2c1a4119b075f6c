import assert from "node:assert/strict";
import { InboundQueue, MAX_QUEUED_BYTES, STALL_TIMEOUT_MS } from "./inbound_queue.ts";

Deno.test("InboundQueue admits far more than Plane's 1,024 messages from a busy peer (issue 11, finding 1)", () => {
  const queue = new InboundQueue(0);
  for (let i = 0; i < 20_000; i++) assert.deepEqual(queue.admit(300, i), { ok: true });
  assert.equal(queue.messages, 20_000);
  assert.equal(queue.bytes, 6_000_000);
  assert.equal(queue.stalled(20_000), null, "messages are waiting, but the queue is young");
});

Deno.test("InboundQueue refuses a message past its byte bound and keeps its count", () => {
  const queue = new InboundQueue(0, { maxBytes: 1_000 });
  assert.deepEqual(queue.admit(600, 0), { ok: true });
  const refused = queue.admit(500, 1);
  assert.equal(refused.ok, false);
  assert.match(!refused.ok ? refused.reason : "", /more than 1000 bytes/);
  assert.equal(queue.messages, 1);
  queue.done(600, 2);
  assert.deepEqual(queue.admit(1_000, 3), { ok: true });
  queue.force(5_000, 4);
  assert.equal(queue.messages, 2, "the close handler is queued whatever the bound");
  assert.equal(new InboundQueue(0).admit(MAX_QUEUED_BYTES + 1, 0).ok, false);
});

Deno.test("InboundQueue.stalled() fires only when messages wait and none finished for the stall time", () => {
  const queue = new InboundQueue(0, { stallMs: 1_000 });
  assert.equal(queue.stalled(10_000), null, "an idle queue is never stalled");
  queue.admit(10, 10_000);
  queue.admit(10, 10_100);
  assert.equal(queue.stalled(10_999), null);
  queue.done(10, 10_500);
  assert.equal(queue.stalled(11_499), null, "progress restarts the clock");
  assert.match(queue.stalled(11_500) ?? "", /No socket message processed for 1 s with 1 waiting/);
  queue.done(10, 11_600);
  assert.equal(queue.stalled(100_000), null);
  assert.equal(new InboundQueue(0).stalled(STALL_TIMEOUT_MS), null);
});

Deno.test("InboundQueue: a busy peer's clock starts when its queue becomes non-empty", () => {
  const queue = new InboundQueue(0, { stallMs: 1_000 });
  queue.admit(10, 50_000);
  assert.equal(queue.stalled(50_999), null);
  assert.notEqual(queue.stalled(51_000), null);
});
