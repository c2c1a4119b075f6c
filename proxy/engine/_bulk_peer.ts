/**
 * The other ends of the 100 MiB streaming test, run as a child process so that the test
 * process's RSS measures the engine alone. `backend`: prints its port, counts uploaded
 * bytes, serves `size` bytes on GET. `upload PORT` / `download PORT`: drive the proxy and
 * print the response body / the number of body bytes received.
 */
const [role, portArg, sizeArg] = Deno.args;
const size = Number(sizeArg);
const chunk = new Uint8Array(64 * 1024).fill(0x61);
const encoder = new TextEncoder();

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

async function readHead(conn: Deno.Conn): Promise<{ head: string; rest: Uint8Array } | null> {
  const buf = new Uint8Array(64 * 1024);
  let text = "";
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) return null;
    text += new TextDecoder("latin1").decode(buf.subarray(0, n));
    const i = text.indexOf("\r\n\r\n");
    if (i !== -1) {
      const headBytes = encoder.encode(text.slice(0, i + 4)).length;
      const all = encoder.encode(text);
      return { head: text.slice(0, i), rest: all.subarray(headBytes) };
    }
  }
}

async function pumpBody(conn: Deno.Conn, total: number): Promise<void> {
  for (let sent = 0; sent < total; sent += chunk.length) {
    await writeAll(conn, chunk.subarray(0, Math.min(chunk.length, total - sent)));
  }
}

async function serveOne(conn: Deno.Conn): Promise<void> {
  try {
    for (;;) {
      const r = await readHead(conn);
      if (r === null) return;
      const length = Number(/content-length: (\d+)/i.exec(r.head)?.[1] ?? 0);
      if (r.head.startsWith("POST")) {
        let got = r.rest.length;
        const buf = new Uint8Array(64 * 1024);
        while (got < length) {
          const n = await conn.read(buf);
          if (n === null) return;
          got += n;
        }
        const body = String(got);
        await writeAll(
          conn,
          encoder.encode(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`),
        );
      } else {
        await writeAll(conn, encoder.encode(`HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\n\r\n`));
        await pumpBody(conn, size);
      }
    }
  } catch {
    /* peer went away */
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

if (role === "backend") {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  await Deno.stdout.write(encoder.encode(`${listener.addr.port}\n`));
  for await (const conn of listener) serveOne(conn);
} else {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(portArg) });
  if (role === "upload") {
    await writeAll(
      conn,
      encoder.encode(
        `POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n`,
      ),
    );
    await pumpBody(conn, size);
    const r = await readHead(conn);
    await Deno.stdout.write(encoder.encode(new TextDecoder().decode(r?.rest)));
  } else {
    await writeAll(
      conn,
      encoder.encode("GET /down HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"),
    );
    const r = await readHead(conn);
    let total = r?.rest.length ?? 0;
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      total += n;
    }
    await Deno.stdout.write(encoder.encode(String(total)));
  }
  conn.close();
}
