/**
 * `deno bench bench/engine_bench.ts`: the engine's own CPU per request, without
 * sockets: in-memory streams on both sides, so only parsing, deciding, head writing and
 * bookkeeping are measured (proxy.ts measures the whole path against nginx).
 */
import { Buffer } from "node:buffer";
import { createEngineWith } from "../proxy/engine/engine.ts";
import type { ByteStream, StreamHandler } from "../proxy/engine/_stream.ts";
import { parseHead } from "../proxy/engine/parse_head.ts";
import { parseResponseHead } from "../proxy/engine/parse_response_head.ts";
import type { Header } from "../proxy/engine/types.ts";

class MemoryStream implements ByteStream {
  handler: StreamHandler | null = null;
  written = 0;
  destroyed = false;
  setHandler(handler: StreamHandler): void {
    this.handler = handler;
  }
  write(bytes: Uint8Array): boolean {
    this.written += bytes.length;
    return true;
  }
  end(): void {}
  destroy(): void {
    this.destroyed = true;
  }
  pause(): void {}
  resume(): void {}
}

const REQUEST = Buffer.from(
  "GET /abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG/index.html?x=1 HTTP/1.1\r\n" +
    "Host: app.example.com\r\nUser-Agent: bench\r\nAccept: */*\r\n" +
    "Accept-Encoding: gzip, deflate\r\nCookie: a=b; c=d\r\n\r\n",
);
const RESPONSE = Buffer.from(
  "HTTP/1.1 200 OK\r\ncontent-type: text/plain;charset=UTF-8\r\nvary: Accept-Encoding\r\n" +
    "content-length: 12\r\ndate: Sun, 22 Nov 2026 05:32:02 GMT\r\n\r\nHello, world",
);

const extra: Header = ["x-bench", "1"];
let upstream: MemoryStream | null = null;
const engine = createEngineWith(
  {
    decide: (head) => ({
      kind: "forward",
      hostname: "127.0.0.1",
      port: 1,
      head: { ...head, headers: [...head.headers, extra] },
    }),
  },
  () => upstream = new MemoryStream(),
);
const client = new MemoryStream();
engine.serve(client, { remoteAddress: "127.0.0.1", tls: false });

Deno.bench("engine: one keep-alive request through in-memory streams", () => {
  client.handler!.onData(REQUEST);
  upstream!.handler!.onData(RESPONSE);
});

Deno.bench("parseHead: browser-like request", () => {
  parseHead(REQUEST, 0, { maxHeadBytes: 16384 });
});

Deno.bench("parseResponseHead: small response", () => {
  parseResponseHead(RESPONSE, 0, { requestMethod: "GET", maxHeadBytes: 65536 });
});

globalThis.addEventListener("unload", () => {
  engine.close();
});
