import assert from "node:assert/strict";
import type net from "node:net";
import { Buffer } from "node:buffer";
import { listen, rawExchange, serveEngine } from "./_test_util.ts";
import type { Header } from "./types.ts";

Deno.test("engine retries a bodiless request once on a fresh connection when a pooled one closes", async () => {
  // The backend's first connection answers one request, then closes on the next without
  // answering (a keep-alive timeout racing our reuse); later connections answer normally.
  const heads: string[] = [];
  let connections = 0;
  await using backend = await listen((socket: net.Socket) => {
    const n = ++connections;
    let served = 0;
    socket.on("data", (chunk: Buffer) => {
      heads.push(chunk.toString("latin1"));
      if (n === 1 && served++ === 1) {
        socket.destroy();
        return;
      }
      socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    });
    socket.on("error", () => {});
  });
  const added: Header = ["X-Added", "1"];
  await using proxy = await serveEngine({
    decide: (head) => ({
      kind: "forward",
      hostname: "127.0.0.1",
      port: backend.port,
      head: { ...head, headers: [...head.headers, added, ["Bad Name", "x"]] },
    }),
  });
  const req = "GET /r HTTP/1.1\r\nHost: a\r\n\r\n";
  const r = await rawExchange(proxy.port, [req, req], {
    gapMs: 50,
    until: (s) => s.split("\r\n\r\nok").length === 3,
  });
  assert.equal(r.response.split("HTTP/1.1 200 OK").length, 3, r.response);
  assert.equal(connections, 2);
  assert.equal(proxy.engine.stats.upstreamConnects, 2);
  // The same head was sent all three times, and the invalid field was counted once per request.
  const expected = "GET /r HTTP/1.1\r\nHost: a\r\nX-Added: 1\r\n\r\n";
  assert.deepEqual(heads, [expected, expected, expected]);
  assert.equal(proxy.engine.stats.droppedHeaders, 2);
});
