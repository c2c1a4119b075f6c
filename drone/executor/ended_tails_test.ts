import assert from "node:assert/strict";
import { EndedTails } from "./ended_tails.ts";
import { LogTail } from "./log_tail.ts";

function tailOf(text: string): LogTail {
  const tail = new LogTail();
  tail.write("stdout", `${text}\n`, 1);
  return tail;
}

Deno.test("EndedTails keeps an ended backend's lines until the retention passes", () => {
  let now = 0;
  const ended = new EndedTails({ retentionMs: 1_000, maxCount: 10, now: () => now });
  ended.add("a", tailOf("bye"));
  now = 1_000;
  assert.deepEqual(ended.lines("a"), [{ stream: "stdout", text: "bye", time: 1 }]);
  now = 1_001;
  assert.equal(ended.lines("a"), null);
  assert.equal(ended.size, 0, "released, not just hidden");
});

Deno.test("EndedTails holds at most maxCount tails, dropping the oldest", () => {
  let now = 0;
  const ended = new EndedTails({ retentionMs: 60_000, maxCount: 3, now: () => now });
  for (const id of ["a", "b", "c", "d", "e"]) {
    ended.add(id, tailOf(id));
    now++;
  }
  assert.equal(ended.size, 3);
  assert.equal(ended.lines("a"), null);
  assert.equal(ended.lines("b"), null);
  assert.deepEqual(ended.lines("e")?.map((l) => l.text), ["e"]);
  assert.equal(ended.lines("unknown"), null);
});

Deno.test("EndedTails releases expired tails when a new one is added", () => {
  let now = 0;
  const ended = new EndedTails({ retentionMs: 100, maxCount: 1_000, now: () => now });
  for (let i = 0; i < 500; i++) {
    ended.add(`b${i}`, tailOf("x"));
    now += 10;
  }
  assert.ok(ended.size <= 11, `only the last 100 ms are kept, got ${ended.size}`);
});
