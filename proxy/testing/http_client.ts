/**
 * A minimal HTTP/1.1 client over `Deno.connect` for proxy tests: it sends exactly the bytes a
 * test writes (any Host, forged headers, several requests on one connection) and reads
 * responses framed by Content-Length (or until the connection closes).
 */
export interface RawResponse {
  status: number;
  /** Lower-cased names; repeated fields joined with ", ". */
  headers: Map<string, string>;
  body: string;
}

export class RawConnection implements AsyncDisposable {
  readonly #conn: Deno.Conn;
  #buffer = new Uint8Array(0);
  #eof = false;

  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  static async open(port: number): Promise<RawConnection> {
    return new RawConnection(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /**
   * TLS to 127.0.0.1:`port`, verifying the certificate for `serverName` against `caCerts` only
   * (the name is never resolved: the connection stays on loopback).
   */
  static async openTls(
    port: number,
    tls: { serverName: string; caCerts: string[] },
  ): Promise<RawConnection> {
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      const conn = await Deno.startTls(tcp, { hostname: tls.serverName, caCerts: tls.caCerts });
      await conn.handshake();
      return new RawConnection(conn);
    } catch (err) {
      try {
        tcp.close();
      } catch {
        // startTls took it over and closed it.
      }
      throw err;
    }
  }

  /** Sends a request; `headers` are written in order, then `body` with its Content-Length. */
  async send(
    method: string,
    target: string,
    headers: [string, string][],
    body?: string,
  ): Promise<void> {
    let text = `${method} ${target} HTTP/1.1\r\n`;
    for (const [name, value] of headers) text += `${name}: ${value}\r\n`;
    const bytes = new TextEncoder().encode(body ?? "");
    if (body !== undefined) text += `content-length: ${bytes.length}\r\n`;
    const head = new TextEncoder().encode(`${text}\r\n`);
    const all = new Uint8Array(head.length + bytes.length);
    all.set(head);
    all.set(bytes, head.length);
    let written = 0;
    while (written < all.length) written += await this.#conn.write(all.subarray(written));
  }

  async #fill(): Promise<boolean> {
    if (this.#eof) return false;
    const chunk = new Uint8Array(16 * 1024);
    const n = await this.#conn.read(chunk).catch(() => null);
    if (n === null) {
      this.#eof = true;
      return false;
    }
    const next = new Uint8Array(this.#buffer.length + n);
    next.set(this.#buffer);
    next.set(chunk.subarray(0, n), this.#buffer.length);
    this.#buffer = next;
    return true;
  }

  /** Reads one response (HEAD requests and 1xx/204/304 are not supported: not needed here). */
  async read(): Promise<RawResponse> {
    let end: number;
    for (;;) {
      end = indexOf(this.#buffer, "\r\n\r\n");
      if (end >= 0) break;
      if (!(await this.#fill())) throw new Error("Connection closed before a response head");
    }
    const head = new TextDecoder().decode(this.#buffer.subarray(0, end));
    this.#buffer = this.#buffer.subarray(end + 4);
    const [statusLine, ...lines] = head.split("\r\n");
    const status = Number(statusLine!.split(" ")[1]);
    const headers = new Map<string, string>();
    for (const line of lines) {
      const colon = line.indexOf(":");
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
    }
    const length = headers.get("content-length");
    if (status === 101) return { status, headers, body: "" };
    if (length !== undefined) {
      while (this.#buffer.length < Number(length)) {
        if (!(await this.#fill())) throw new Error("Connection closed inside a body");
      }
    } else {
      while (await this.#fill());
    }
    const size = length === undefined ? this.#buffer.length : Number(length);
    const body = new TextDecoder().decode(this.#buffer.subarray(0, size));
    this.#buffer = this.#buffer.subarray(size);
    return { status, headers, body };
  }

  /** Reads exactly `n` bytes (after a 101, the tunnel's bytes). */
  async readBytes(n: number): Promise<Uint8Array> {
    while (this.#buffer.length < n) {
      if (!(await this.#fill())) throw new Error("Connection closed while reading bytes");
    }
    const out = this.#buffer.slice(0, n);
    this.#buffer = this.#buffer.subarray(n);
    return out;
  }

  async write(bytes: Uint8Array): Promise<void> {
    let written = 0;
    while (written < bytes.length) written += await this.#conn.write(bytes.subarray(written));
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

function indexOf(haystack: Uint8Array, needle: string): number {
  const n = new TextEncoder().encode(needle);
  outer: for (let i = 0; i + n.length <= haystack.length; i++) {
    for (let j = 0; j < n.length; j++) if (haystack[i + j] !== n[j]) continue outer;
    return i;
  }
  return -1;
}

/** One request on a fresh connection. */
export async function request(
  port: number,
  target: string,
  headers: [string, string][] = [["Host", "plane.test"]],
  options: { method?: string; body?: string } = {},
): Promise<RawResponse> {
  await using conn = await RawConnection.open(port);
  await conn.send(options.method ?? "GET", target, headers, options.body);
  return await conn.read();
}

/**
 * A WebSocket over a raw connection, so a test can choose the Host header (Deno's WebSocket
 * always sends the URL's), with extra request headers. Sends text frames under 126 bytes;
 * receives text frames up to 64 KiB (RFC 6455 §5.2).
 */
export async function openRawWebSocket(
  port: number,
  target: string,
  host: string,
  extraHeaders: [string, string][] = [],
  /** Over TLS, verified for the Host's name against these CAs. */
  tls?: { caCerts: string[] },
): Promise<
  {
    response: RawResponse;
    send(text: string): Promise<void>;
    receive(): Promise<string>;
    close(): void;
  }
> {
  const conn = tls === undefined
    ? await RawConnection.open(port)
    : await RawConnection.openTls(port, { serverName: host.replace(/:\d+$/, ""), ...tls });
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  await conn.send("GET", target, [
    ["Host", host],
    ["Connection", "Upgrade"],
    ["Upgrade", "websocket"],
    ["Sec-WebSocket-Version", "13"],
    ["Sec-WebSocket-Key", key],
    ...extraHeaders,
  ]);
  const response = await conn.read();
  /** One masked frame (client frames must be), payload under 126 bytes. */
  async function writeFrame(firstByte: number, payload: Uint8Array) {
    const mask = crypto.getRandomValues(new Uint8Array(4));
    const frame = new Uint8Array(6 + payload.length);
    frame[0] = firstByte;
    frame[1] = 0x80 | payload.length;
    frame.set(mask, 2);
    for (let i = 0; i < payload.length; i++) frame[6 + i] = payload[i]! ^ mask[i % 4]!;
    await conn.write(frame);
  }
  return {
    response,
    async send(text) {
      const payload = new TextEncoder().encode(text);
      if (payload.length >= 126) {
        throw new RangeError("Cannot send: test frames stay under 126 bytes");
      }
      await writeFrame(0x81, payload); // FIN + text
    },
    async receive() {
      let [first, second] = await conn.readBytes(2);
      // A server's ping is answered with a pong carrying its payload, as RFC 6455 §5.5.2
      // requires (Deno's server closes a socket whose pings go unanswered); a pong is skipped.
      while (first === 0x89 || first === 0x8a) {
        const payload = await conn.readBytes(second! & 0x7f);
        if (first === 0x89) await writeFrame(0x8a, payload);
        [first, second] = await conn.readBytes(2);
      }
      let length = second! & 0x7f;
      if ((first! & 0x0f) !== 0x1 || length === 127) {
        throw new Error(`Cannot receive: unexpected frame ${first} ${second}`);
      }
      if (length === 126) {
        const [high, low] = await conn.readBytes(2);
        length = high! * 256 + low!;
      }
      return new TextDecoder().decode(await conn.readBytes(length));
    },
    close: () => conn.close(),
  };
}
