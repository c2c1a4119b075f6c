import assert from "node:assert/strict";
import { LogTail } from "./log_tail.ts";

Deno.test("LogTail keeps complete lines per stream and bounds lines and bytes", () => {
  const tail = new LogTail(3, 10);
  tail.write("stdout", "a\nb", 1);
  tail.write("stderr", "x\n", 2);
  tail.write("stdout", "c\n", 3);
  assert.deepEqual(tail.lines().map((l) => `${l.stream}:${l.text}`), [
    "stdout:a",
    "stderr:x",
    "stdout:bc",
  ]);
  tail.write("stdout", "d\n", 4);
  assert.deepEqual(tail.lines().map((l) => l.text), ["x", "bc", "d"]);
  tail.write("stdout", "0123456789\n", 5);
  assert.deepEqual(tail.lines().map((l) => l.text), ["0123456789"]);
  tail.write("stderr", "end", 6);
  tail.end(7);
  assert.deepEqual(tail.lines().map((l) => l.text), ["end"]);
});
