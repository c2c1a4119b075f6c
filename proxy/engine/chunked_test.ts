import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { ChunkedDecoder } from "./chunked.ts";

/** Feeds `text` in pieces of `step` bytes the way the engine does; returns forwarded bytes. */
function run(text: string, step = text.length || 1) {
  const d = new ChunkedDecoder({ maxLineBytes: 64, maxTrailerBytes: 64 });
  const input = Buffer.from(text, "latin1");
  let pending = Buffer.alloc(0);
  let forwarded = "";
  let data = "";
  for (let i = 0; i < input.length && !d.done; i += step) {
    const buf = Buffer.concat([pending, input.subarray(i, i + step)]);
    const off = d.feed(buf, 0, buf.length, (b, s, e) => data += b.toString("latin1", s, e));
    if (off === -1) return { ok: false as const, error: d.error, forwarded };
    forwarded += buf.toString("latin1", 0, off);
    pending = buf.subarray(off);
  }
  return { ok: true as const, done: d.done, forwarded, data, rest: pending.toString("latin1") };
}

const VALID = [
  "0\r\n\r\n",
  "5\r\nhello\r\n0\r\n\r\n",
  "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
  "A\r\n0123456789\r\n0\r\n\r\n",
  "a\r\n0123456789\r\n000\r\n\r\n",
  "5;name=value\r\nhello\r\n0\r\n\r\n",
  '5 ; a = "quoted \\" ;value"\r\nhello\r\n0;last\r\n\r\n',
  "5;a;b=c\r\nhello\r\n0\r\nTrailer-One: x\r\nTrailer-Two: y\r\n\r\n",
];

Deno.test("ChunkedDecoder validates and forwards well-formed bodies unchanged", () => {
  for (const body of VALID) {
    for (const step of [1, 2, 3, 7, body.length]) {
      const r = run(body, step);
      assert.ok(r.ok, `${JSON.stringify(body)} step ${step}: ${!r.ok && r.error}`);
      assert.equal(r.done, true);
      assert.equal(r.forwarded, body, `step ${step}`);
    }
  }
});

Deno.test("ChunkedDecoder hands chunk data to the sink (for HTTP/1.0 clients)", () => {
  const r = run("5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nT: v\r\n\r\n", 4);
  assert.ok(r.ok);
  assert.equal(r.data, "hello world");
});

Deno.test("ChunkedDecoder stops at the end of the body and leaves the next message", () => {
  const d = new ChunkedDecoder();
  const buf = Buffer.from("3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n", "latin1");
  const off = d.feed(buf, 0, buf.length);
  assert.equal(d.done, true);
  assert.equal(buf.toString("latin1", off), "GET / HTTP/1.1\r\n");
});

Deno.test("ChunkedDecoder never releases a partial size line", () => {
  const d = new ChunkedDecoder();
  const buf = Buffer.from("5\r\nhello\r\n1", "latin1");
  assert.equal(d.feed(buf, 0, buf.length), 10);
});

const INVALID: [string, string][] = [
  ["zz\r\n", "invalid chunk size"],
  ["\r\n", "invalid chunk size"],
  ["-5\r\nhello\r\n", "invalid chunk size"],
  ["+5\r\nhello\r\n", "invalid chunk size"],
  ["0x5\r\nhello\r\n", "invalid chunk extension"],
  [" 5\r\nhello\r\n", "invalid chunk size"],
  ["5 \r\nhello\r\n", "invalid chunk extension"],
  ["5\r\nhelloXX0\r\n\r\n", "missing CRLF after chunk data"],
  ["5\r\nhello\n0\r\n\r\n", "missing CRLF after chunk data"],
  ["5\nhello\r\n0\r\n\r\n", "bare LF in chunked body"],
  ["5\rhello\r\n", "invalid chunk extension"],
  ["5;\r\nhello\r\n", "invalid chunk extension"],
  ["5;a=\r\nhello\r\n", "invalid chunk extension"],
  ['5;a="x\r\nhello\r\n', "invalid chunk extension"],
  ["5;a b\r\nhello\r\n", "invalid chunk extension"],
  ["5;a=\x00\r\nhello\r\n", "invalid chunk extension"],
  ["fffffffffffffffffffff\r\n", "chunk size overflow"],
  ["20000000000000\r\n", "chunk size overflow"],
  ["1" + "0".repeat(70) + "\r\n", "chunk line too long"],
  ["0\r\nBad Trailer: x\r\n\r\n", "invalid trailer field"],
  ["0\r\n folded\r\n\r\n", "invalid trailer field"],
  ["0\r\nT: a\x00b\r\n\r\n", "invalid trailer field"],
  ["0\r\nT: x\n\r\n", "bare LF in chunked body"],
  ["0\r\nT: " + "x".repeat(40) + "\r\nU: " + "y".repeat(40) + "\r\n\r\n", "trailers too large"],
];

Deno.test("ChunkedDecoder refuses malformed bodies without forwarding the bad bytes", () => {
  for (const [body, reason] of INVALID) {
    for (const step of [1, 5, body.length]) {
      const r = run(body, step);
      assert.ok(!r.ok, `${JSON.stringify(body)} step ${step} accepted`);
      assert.equal(r.error, reason, JSON.stringify(body));
      // What was forwarded is a prefix of the body ending on a validated boundary.
      assert.ok(body.startsWith(r.forwarded));
      assert.ok(!r.forwarded.includes("XX") && !r.forwarded.includes("\x00"));
    }
  }
});

Deno.test("ChunkedDecoder refuses a line longer than its limit before the line ends", () => {
  const d = new ChunkedDecoder({ maxLineBytes: 16 });
  const buf = Buffer.from("5;" + "a".repeat(30), "latin1");
  assert.equal(d.feed(buf, 0, buf.length), -1);
  assert.equal(d.error, "chunk line too long");
});

Deno.test("ChunkedDecoder accepts the largest exact chunk size and no more", () => {
  const ok = new ChunkedDecoder();
  const max = Buffer.from("1fffffffffffff\r\n", "latin1");
  assert.equal(ok.feed(max, 0, max.length), max.length);
  const over = new ChunkedDecoder();
  const big = Buffer.from("20000000000000\r\n", "latin1");
  assert.equal(over.feed(big, 0, big.length), -1);
});

Deno.test("ChunkedDecoder drops the trailer fields dropTrailer names, keeping framing", () => {
  const text = "5\r\nhello\r\n0\r\nX-Verified-User: m\r\nKeep: 1\r\nx_verified_user: m\r\n\r\nNEXT";
  for (let step = 1; step <= text.length; step++) {
    const d = new ChunkedDecoder({ dropTrailer: (name) => name.toLowerCase().startsWith("x") });
    const input = Buffer.from(text, "latin1");
    let pending = Buffer.alloc(0);
    let forwarded = "";
    let i = 0;
    for (; i < input.length && !d.done; i += step) {
      let buf = Buffer.concat([pending, input.subarray(i, i + step)]);
      for (;;) {
        const off = d.feed(buf, 0, buf.length);
        assert.notEqual(off, -1, d.error);
        forwarded += buf.toString("latin1", 0, off);
        buf = buf.subarray(off + d.skipped);
        if (d.skipped === 0 || d.done) break;
      }
      pending = buf;
    }
    assert.equal(d.done, true, `step ${step}`);
    assert.equal(forwarded, "5\r\nhello\r\n0\r\nKeep: 1\r\n\r\n", `step ${step}`);
    const rest = Buffer.concat([pending, input.subarray(i)]).toString("latin1");
    assert.equal(rest, "NEXT", `step ${step}`);
  }
});
