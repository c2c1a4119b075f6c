import assert from "node:assert/strict";
import { jsonDepthExceeded, MAX_JSON_DEPTH } from "./json_depth.ts";

Deno.test("jsonDepthExceeded() allows nesting up to the limit and reports the first level past it", () => {
  const nested = (n: number) => "[".repeat(n) + "]".repeat(n);
  assert.equal(jsonDepthExceeded(nested(MAX_JSON_DEPTH)), null);
  assert.equal(jsonDepthExceeded(nested(MAX_JSON_DEPTH + 1)), MAX_JSON_DEPTH + 1);
  assert.equal(jsonDepthExceeded('{"a":{"b":[1,{"c":2}]}}', 4), null);
  assert.equal(jsonDepthExceeded('{"a":{"b":[1,{"c":2}]}}', 3), 4);
  assert.equal(jsonDepthExceeded(nested(10_000)), MAX_JSON_DEPTH + 1);
});

Deno.test("jsonDepthExceeded() does not count brackets inside strings, escapes included", () => {
  assert.equal(jsonDepthExceeded(JSON.stringify({ a: "[[[[{{{{" }), 1), null);
  assert.equal(jsonDepthExceeded(JSON.stringify({ a: 'x\\"[[[[' }), 1), null);
  assert.equal(jsonDepthExceeded(JSON.stringify({ a: "\\" }) + "[[", 2), null);
  assert.equal(jsonDepthExceeded(JSON.stringify(["\\", ["x"]]), 1), 2);
  // Siblings do not add up: depth is nesting, not count.
  assert.equal(jsonDepthExceeded(JSON.stringify([[1], [2], [3], { a: [4] }]), 3), null);
});
