import assert from "node:assert/strict";
import { delay } from "./delay.ts";

Deno.test("delay() waits about the time asked", async () => {
  const started = performance.now();
  await delay(30);
  assert.ok(performance.now() - started >= 25);
});

Deno.test("delay() ends as soon as its signal aborts, and at once if it already has", async () => {
  const abort = new AbortController();
  const started = performance.now();
  const waiting = delay(60_000, { signal: abort.signal });
  abort.abort();
  await waiting;
  await delay(60_000, { signal: abort.signal });
  assert.ok(performance.now() - started < 1_000);
});
