/** EngineLimits.bodyTimeoutMs (issue 10, finding 6): a request body that stops arriving. */
import assert from "node:assert/strict";
import { forwardTo, probeBackend, rawExchange, serveEngine } from "./_test_util.ts";
import { waitFor } from "../../testing/wait_for.ts";

const HEAD = "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n";

Deno.test("engine answers 408 and closes both sides when a request body stalls", async () => {
  await using probe = await probeBackend();
  await using proxy = await serveEngine({
    decide: forwardTo(probe.port),
    limits: { bodyTimeoutMs: 300 },
  });
  const started = Date.now();
  const r = await rawExchange(proxy.port, [HEAD + "abc"], { deadlineMs: 5000 });
  assert.match(r.response, /^HTTP\/1\.1 408 /);
  assert.match(r.response, /\r\nConnection: close\r\n/);
  assert.ok(r.closed, "client connection closed");
  assert.ok(Date.now() - started < 3000, `timed out on time (${Date.now() - started} ms)`);
  assert.equal(probe.received(), HEAD + "abc");
  await waitFor(() => probe.open() === 0, { message: "backend connection closed" });
  assert.equal(proxy.engine.stats.rejected, 1);
});

Deno.test("engine lets a slow request body through while it keeps arriving", async () => {
  await using probe = await probeBackend();
  await using proxy = await serveEngine({
    decide: forwardTo(probe.port),
    limits: { bodyTimeoutMs: 300 },
  });
  // 10 bytes, one every 100 ms: 1 s in total, over three times the inactivity limit.
  const head = "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n";
  const parts = [head, ..."0123456789".split("")];
  const r = await rawExchange(proxy.port, parts, {
    gapMs: 100,
    deadlineMs: 1600,
    until: () => probe.received().endsWith("9"),
  });
  assert.equal(r.response, "");
  assert.equal(probe.received(), head + "0123456789");
  assert.equal(proxy.engine.stats.rejected, 0);
});
