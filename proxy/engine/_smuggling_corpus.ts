/**
 * The request-smuggling corpus (targets.md §4): ambiguous requests a proxy must refuse. Shared by
 * the engine's own test (`smuggling_test.ts`) and the multi-worker proxy's
 * (`../worker_pool_test.ts`), so both run exactly the same cases.
 */

export interface Case {
  name: string;
  parts: string[];
  /** Bytes that may reach the backend (a valid head, validated chunks); none if omitted. */
  allowed?: string;
  /** Expected status; any 4xx if omitted. */
  status?: number;
}

export const H = "Host: app.example.com\r\n";
export const SMUGGLED = "GET /admin HTTP/1.1\r\nHost: app.example.com\r\n\r\n";

export const CASES: Case[] = [
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
