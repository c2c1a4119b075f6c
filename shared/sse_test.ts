import assert from "node:assert/strict";
import { SseParser } from "./sse.ts";

Deno.test("SseParser joins data lines, keeps the last id and skips comments", () => {
  const parser = new SseParser();
  const events = parser.push(
    ': keep-alive\n\ndata: {"a":1}\nid: ready\n\ndata: one\ndata:two\n\n',
  );
  assert.deepEqual(events, [
    { event: "message", data: '{"a":1}', id: "ready" },
    { event: "message", data: "one\ntwo", id: "ready" },
  ]);
  assert.equal(parser.lastEventId, "ready");
});

Deno.test("SseParser handles any chunking and every line ending", () => {
  const text = "event: log\r\ndata: x\r\rdata: y\nid: 7\n\ndata: z\r\n\r\n";
  const whole = new SseParser().push(text);
  assert.deepEqual(whole, [
    { event: "log", data: "x", id: "" },
    { event: "message", data: "y", id: "7" },
    { event: "message", data: "z", id: "7" },
  ]);
  for (let size = 1; size <= 4; size++) {
    const parser = new SseParser();
    const events = [];
    for (let i = 0; i < text.length; i += size) {
      events.push(...parser.push(text.slice(i, i + size)));
    }
    assert.deepEqual(events, whole, `chunks of ${size}`);
  }
});

Deno.test("SseParser waits for the blank line and ignores events without data", () => {
  const parser = new SseParser();
  assert.deepEqual(parser.push("data: partial"), []);
  assert.deepEqual(parser.push("\nid: x\n"), []);
  assert.deepEqual(parser.push("\n"), [{ event: "message", data: "partial", id: "x" }]);
  assert.deepEqual(parser.push("id: y\nretry: 10\n\n"), []);
  assert.equal(parser.lastEventId, "y");
  assert.deepEqual(parser.push("data\n\n"), [{ event: "message", data: "", id: "y" }]);
});
