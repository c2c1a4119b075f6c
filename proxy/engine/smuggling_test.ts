/**
 * Request-smuggling corpus (targets.md): every ambiguous request, sent to a real engine on
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

interface Case {
  name: string;
  parts: string[];
  /** Bytes that may reach the backend (a valid head, validated chunks); none if omitted. */
  allowed?: string;
  /** Expected status; any 4xx if omitted. */
  status?: number;
}

const H = "Host: app.example.com\r\n";
const SMUGGLED = "GET /admin HTTP/1.1\r\nHost: app.example.com\r\n\r\n";

const CASES: Case[] = [
  // CL.TE / TE.CL: both framings present.
  {
    name: "CL.TE",
    parts: [
      `POST / HTTP/1.1\r\n${H}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG`,
    ],
  },
  {
    name: "TE.CL",
    parts: [
      `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\n${SMUGGLED}\r\n0\r\n\r\n`,
    ],
  },
  // TE.TE: obfuscated Transfer-Encoding.
  ...[
    "chunked, identity",
    "identity, chunked",
    "xchunked",
    "chunked\x0b",
    "\x0cchunked",
    "chunk",
    "chunked;",
    '"chunked"',
    "chunked, chunked",
    "gzip, chunked",
  ].map((te): Case => ({
    name: `TE.TE ${JSON.stringify(te)}`,
    parts: [
      `POST / HTTP/1.1\r\n${H}Transfer-Encoding: ${te}\r\nContent-Length: 4\r\n\r\n0\r\n\r\n`,
    ],
  })),
  ...[
    "Transfer-Encoding : chunked",
    "Transfer-Encoding\t: chunked",
    " Transfer-Encoding: chunked",
    "Transfer_Encoding: chunked",
    "Transfer-Encoding:\nchunked",
    "X: x\r\n Transfer-Encoding: chunked",
    "X: x\r\n\tTransfer-Encoding: chunked",
  ].map((line): Case => ({
    name: `TE.TE line ${JSON.stringify(line)}`,
    parts: [`POST / HTTP/1.1\r\n${H}${line}\r\nContent-Length: 4\r\n\r\n0\r\n\r\n`],
  })),
  {
    name: "TE.TE duplicate headers",
    parts: [
      `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n`,
    ],
  },
  {
    name: "TE.TE duplicate identical headers",
    parts: [
      `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    ],
  },
  {
    name: "TE in HTTP/1.0",
    parts: ["POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"],
  },
  // Content-Length variants.
  ...[
    ["5", "6"],
    ["5", "5"],
  ].map(([a, b]): Case => ({
    name: `duplicate Content-Length ${a}/${b}`,
    parts: [`POST / HTTP/1.1\r\n${H}Content-Length: ${a}\r\nContent-Length: ${b}\r\n\r\nhello!`],
  })),
  ...["5, 5", "5,6", "+5", "-1", "0x5", "5 5", "5\t5", "1e1", " ", "99999999999999999999"].map(
    (cl): Case => ({
      name: `Content-Length ${JSON.stringify(cl)}`,
      parts: [`POST / HTTP/1.1\r\n${H}Content-Length: ${cl}\r\n\r\nhello`],
    }),
  ),
  // Header injection and line-ending games.
  { name: "bare LF line ends", parts: [`GET / HTTP/1.1\n${H.replace("\r\n", "\n")}\n`] },
  {
    name: "bare CR in value",
    parts: [`GET / HTTP/1.1\r\n${H}X: a\rTransfer-Encoding: chunked\r\n\r\n`],
  },
  {
    name: "bare LF in value",
    parts: [`GET / HTTP/1.1\r\n${H}X: a\nContent-Length: 5\r\n\r\nhello`],
  },
  { name: "bare CR in request line", parts: [`GET / HTTP/1.1\r${H}\r\n`] },
  { name: "NUL in value", parts: [`GET / HTTP/1.1\r\n${H}X: a\x00b\r\n\r\n`] },
  { name: "NUL in name", parts: [`GET / HTTP/1.1\r\n${H}X\x00Y: b\r\n\r\n`] },
  { name: "obs-fold", parts: [`GET / HTTP/1.1\r\n${H}X: a\r\n b\r\n\r\n`] },
  { name: "space before colon", parts: [`GET / HTTP/1.1\r\n${H}Content-Length : 5\r\n\r\nhello`] },
  { name: "missing Host", parts: ["GET / HTTP/1.1\r\n\r\n"] },
  { name: "two Hosts", parts: [`GET / HTTP/1.1\r\n${H}Host: other.example.com\r\n\r\n`] },
  { name: "request line with three spaces", parts: [`GET / x HTTP/1.1\r\n${H}\r\n`] },
  { name: "HTTP/2 over HTTP/1 framing", parts: [`GET / HTTP/2.0\r\n${H}\r\n`], status: 505 },
  {
    name: "oversize head",
    parts: [`GET / HTTP/1.1\r\n${H}X: ${"a".repeat(5000)}\r\n\r\n`],
    status: 431,
  },
  // Chunked bodies the engine must refuse mid-stream: the head is valid and is forwarded;
  // nothing after the last valid chunk is.
  ...[
    ["zz\r\n", "invalid size"],
    ["-1\r\n", "negative size"],
    ["fffffffffffffffffff\r\n", "size overflow"],
    ["5\r\nhelloXX", "missing CRLF after data"],
    ["5\nhello\r\n", "bare LF after size"],
    ["5 x\r\nhello\r\n", "bad extension"],
    ["0\r\nX Y: z\r\n\r\n", "bad trailer"],
  ].map(([body, what]): Case => {
    const head = `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n`;
    return {
      name: `chunked ${what}`,
      parts: [head + "3\r\nabc\r\n" + body + SMUGGLED],
      allowed: head + "3\r\nabc\r\n",
    };
  }),
];

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
