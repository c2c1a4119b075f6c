/**
 * A backend for proxy tests that must see the bytes the proxy sends, which an HTTP server
 * library hides (trailer fields, exact header names): HTTP/1.1 on $PORT over plain TCP. Each
 * request is answered with JSON `{head, trailers, bodyBytes, open}`: the request head as
 * received, the chunked body's trailer lines, the body's length, and how many other
 * connections are open right now. Keep-alive; no pipelining.
 */
const port = Number(Deno.env.get("PORT"));
const encoder = new TextEncoder();
const decoder = new TextDecoder("latin1");
let open = 0;

class Reader {
  #conn: Deno.Conn;
  #buf = new Uint8Array(0);
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }
  /** Bytes up to and including `delimiter`, or null at EOF. */
  async until(delimiter: string): Promise<string | null> {
    for (;;) {
      const text = decoder.decode(this.#buf);
      const at = text.indexOf(delimiter);
      if (at >= 0) {
        this.#buf = this.#buf.subarray(at + delimiter.length);
        return text.slice(0, at + delimiter.length);
      }
      if (!(await this.#fill())) return null;
    }
  }
  async bytes(n: number): Promise<boolean> {
    while (this.#buf.length < n) if (!(await this.#fill())) return false;
    this.#buf = this.#buf.subarray(n);
    return true;
  }
  async #fill(): Promise<boolean> {
    const chunk = new Uint8Array(64 * 1024);
    const n = await this.#conn.read(chunk).catch(() => null);
    if (n === null) return false;
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = next;
    return true;
  }
}

async function serve(conn: Deno.Conn): Promise<void> {
  open++;
  const reader = new Reader(conn);
  try {
    for (;;) {
      const head = await reader.until("\r\n\r\n");
      if (head === null) return;
      const lower = head.toLowerCase();
      const trailers: string[] = [];
      let bodyBytes = 0;
      if (/\r\ntransfer-encoding:[^\r]*chunked/.test(lower)) {
        for (;;) {
          const line = await reader.until("\r\n");
          if (line === null) return;
          const size = parseInt(line, 16);
          if (size === 0) break;
          if (!(await reader.bytes(size + 2))) return;
          bodyBytes += size;
        }
        for (;;) {
          const line = await reader.until("\r\n");
          if (line === null) return;
          if (line === "\r\n") break;
          trailers.push(line.slice(0, -2));
        }
      } else {
        const length = /\r\ncontent-length:\s*(\d+)/.exec(lower);
        bodyBytes = length ? Number(length[1]) : 0;
        if (!(await reader.bytes(bodyBytes))) return;
      }
      const body = encoder.encode(JSON.stringify({ head, trailers, bodyBytes, open: open - 1 }));
      const response = encoder.encode(
        `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`,
      );
      await writeAll(conn, response);
      await writeAll(conn, body);
    }
  } catch {
    // The peer went away mid-write.
  } finally {
    open--;
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

const listener = Deno.listen({ hostname: "127.0.0.1", port });
Deno.stdout.writeSync(encoder.encode(`listening on ${port}\n`));
for await (const conn of listener) void serve(conn);
