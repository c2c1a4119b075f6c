import assert from "node:assert/strict";
import { Backoff } from "./backoff.ts";

Deno.test("Backoff grows by its factor up to the cap and starts over on reset()", () => {
  const backoff = new Backoff({ initialMs: 1_000, maxMs: 1_400, factor: 1.1 });
  assert.deepEqual([1, 2, 3, 4, 5].map(() => backoff.next()), [1_000, 1_100, 1_210, 1_331, 1_400]);
  backoff.reset();
  assert.equal(backoff.next(), 1_000);
});

Deno.test("Backoff doubles by default and never starts above its cap", () => {
  const doubling = new Backoff({ initialMs: 100, maxMs: 5_000 });
  assert.deepEqual(Array.from({ length: 8 }, () => doubling.next()), [
    100,
    200,
    400,
    800,
    1_600,
    3_200,
    5_000,
    5_000,
  ]);
  assert.equal(new Backoff({ initialMs: 50, maxMs: 20 }).next(), 20);
});
