/**
 * Request-smuggling corpus (targets.md §4): every ambiguous request, sent to a real engine on
 * loopback, must get a 4xx and a closed connection, and the probe backend (which records
 * every byte it receives) must never see the ambiguous part. Cases whose head is valid but
 * whose chunked body is not may reach the backend only as the validated prefix.
 */
import assert from "node:assert/strict";
import {
  forwardTo,
  type ListenerKind,
  probeBackend,
  rawExchange,
  serveEngine,
} from "./_test_util.ts";
import { CASES, H, SMUGGLED } from "./_smuggling_corpus.ts";

async function runCorpus(listener: ListenerKind): Promise<void> {
  for (const c of CASES) {
    await using probe = await probeBackend();
    await using proxy = await serveEngine(
      { decide: forwardTo(probe.port), limits: { maxHeadBytes: 4096 } },
      { listener },
    );
    const r = await rawExchange(proxy.port, c.parts, { deadlineMs: 3000 });
    const status = Number(r.response.slice(9, 12));
    assert.ok(
      r.response.startsWith("HTTP/1.1 4") || r.response.startsWith("HTTP/1.1 5"),
      `${c.name}: ${JSON.stringify(r.response)}`,
    );
    if (c.status !== undefined) assert.equal(status, c.status, c.name);
    else assert.ok(status >= 400 && status < 500, `${c.name}: ${status}`);
    assert.match(r.response, /\r\nConnection: close\r\n/, c.name);
    assert.ok(r.closed, `${c.name}: connection left open`);
    // Exactly one response: nothing smuggled got answered.
    assert.equal(r.response.split("HTTP/1.1 ").length - 1, 1, c.name);
    // The backend saw nothing, or only the validated prefix (never the smuggled request).
    const received = probe.received();
    assert.equal(
      received,
      received === "" ? "" : c.allowed ?? "",
      `${c.name}: backend got ${JSON.stringify(received)}`,
    );
    assert.ok(!received.includes("/admin"), c.name);
  }
}

Deno.test("engine refuses the smuggling corpus (Deno.listen connections)", async () => {
  await runCorpus("deno");
});

Deno.test("engine refuses the smuggling corpus (node:net sockets)", async () => {
  await runCorpus("node");
});

Deno.test("engine answers 408 and closes when a head trickles past the timeout", async () => {
  await using probe = await probeBackend();
  await using proxy = await serveEngine({
    decide: forwardTo(probe.port),
    limits: { headTimeoutMs: 300 },
  });
  // One byte every 50 ms: each arrives well within any idle timeout, the head never ends.
  const slow = `GET / HTTP/1.1\r\n${H}X-Slow: ${"a".repeat(40)}`.split("");
  const started = Date.now();
  const r = await rawExchange(proxy.port, slow, { gapMs: 50, deadlineMs: 4000 });
  assert.match(r.response, /^HTTP\/1\.1 408 /);
  assert.match(r.response, /\r\nConnection: close\r\n/);
  assert.ok(r.closed);
  assert.ok(Date.now() - started < 2000, "timed out on time");
  assert.equal(probe.received(), "");
  assert.equal(proxy.engine.stats.rejected, 1);
});

Deno.test("engine closes the connection after a chunked body it cannot frame, even mid-upload", async () => {
  await using probe = await probeBackend();
  await using proxy = await serveEngine({ decide: forwardTo(probe.port) });
  const head = `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n`;
  const r = await rawExchange(proxy.port, [
    head,
    "4\r\nabcd\r\n",
    "4\r\nefgh\r\n",
    "g\r\n" + SMUGGLED,
  ], {
    gapMs: 30,
  });
  assert.match(r.response, /^HTTP\/1\.1 400 /);
  assert.ok(r.closed);
  assert.equal(probe.received(), head + "4\r\nabcd\r\n4\r\nefgh\r\n");
});
