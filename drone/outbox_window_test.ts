import assert from "node:assert/strict";
import { OUTBOX_WINDOW, OutboxWindow } from "./outbox_window.ts";

Deno.test("OutboxWindow has room for `size` events, and one more per ack of an in-flight event", () => {
  const window = new OutboxWindow(3);
  assert.equal(window.room, 3);
  window.sent(1);
  window.sent(2);
  window.sent(3);
  assert.equal(window.room, 0);
  assert.deepEqual(window.inFlight, [1, 2, 3]);
  assert.equal(window.acked(2), true);
  assert.equal(window.room, 1);
  assert.deepEqual(window.inFlight, [1, 3]);
});

Deno.test("OutboxWindow ignores acks of events it did not send", () => {
  const window = new OutboxWindow(1);
  window.sent(7);
  assert.equal(window.acked(6), false);
  assert.equal(window.acked(7), true);
  assert.equal(window.acked(7), false, "a repeated ack frees nothing more");
  assert.equal(window.room, 1);
});

Deno.test("OutboxWindow defaults to OUTBOX_WINDOW and refuses a size below 1", () => {
  assert.equal(new OutboxWindow().size, OUTBOX_WINDOW);
  assert.throws(() => new OutboxWindow(0), RangeError);
  assert.throws(() => new OutboxWindow(1.5), RangeError);
});
