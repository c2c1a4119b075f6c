/** EngineOptions.dropRequestTrailer (issue 10, finding 2c): request trailers the proxy refuses. */
import assert from "node:assert/strict";
import { forwardTo, probeBackend, rawExchange, serveEngine } from "./_test_util.ts";
import { waitFor } from "../../testing/wait_for.ts";

const HEAD = "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";

for (const gapMs of [0, 20]) {
  Deno.test(`engine drops refused request trailers and keeps the framing (gap ${gapMs} ms)`, async () => {
    await using probe = await probeBackend();
    await using proxy = await serveEngine({
      decide: forwardTo(probe.port),
      dropRequestTrailer: (name) => name.toLowerCase().startsWith("x-verified"),
    });
    const parts = [
      HEAD,
      "5\r\nhello\r\n0\r\n",
      "X-Verified-User: mallory\r\n",
      "Kept: 1\r\nx-verified-secret: s\r\n",
      "\r\n",
    ];
    // The probe never answers: the exchange ends at its deadline, after the last part.
    await rawExchange(proxy.port, parts, { gapMs, deadlineMs: 400 });
    await waitFor(() => probe.received().endsWith("0\r\nKept: 1\r\n\r\n"), {
      message: "the body with its kept trailer",
    });
    assert.equal(probe.received(), HEAD + "5\r\nhello\r\n0\r\nKept: 1\r\n\r\n");
  });
}
