import assert from "node:assert/strict";
import { chunkLines } from "./logs_hub.ts";
import type { BackendName } from "../shared/names.ts";

const base = { "backend_id": "b1" as BackendName, request: "r1", more: false };

Deno.test("chunkLines() keeps every NOTIFY payload under 8000 bytes and marks all but the last chunk", () => {
  const lines = Array.from({ length: 100 }, (_, i) => ({
    stream: "stdout" as const,
    text: `line ${i} ${"é".repeat(200)}`,
    time: i,
  }));
  const chunks = chunkLines({ ...base, lines });
  assert.ok(chunks.length > 1);
  for (const chunk of chunks) {
    assert.ok(new TextEncoder().encode(JSON.stringify(chunk)).length < 8000);
  }
  assert.deepEqual(chunks.map((c) => c.more), [...chunks.slice(1).map(() => true), false]);
  assert.deepEqual(chunks.flatMap((c) => c.lines), lines);
});

Deno.test("chunkLines() cuts an overlong line and keeps an empty batch as one chunk", () => {
  const [chunk] = chunkLines({
    ...base,
    lines: [{ stream: "stderr", text: "x".repeat(10_000), time: 1 }],
  });
  assert.equal(chunk!.lines[0]!.text.length, 4000);
  assert.deepEqual(chunkLines({ ...base, lines: [] }), [{ ...base, lines: [] }]);
});
