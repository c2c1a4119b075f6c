import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { parseHead, type ParseHeadResult } from "./parse_head.ts";

const LIMITS = { maxHeadBytes: 1024, maxHeaders: 20 };

function parse(text: string, limits = LIMITS): ParseHeadResult {
  return parseHead(Buffer.from(text, "latin1"), 0, limits);
}

function ok(text: string) {
  const r = parse(text);
  if (!r.ok) assert.fail(`expected ok, got ${JSON.stringify(r)} for ${JSON.stringify(text)}`);
  return r;
}

function rejected(text: string, status = 400): string {
  const r = parse(text);
  if (r.ok || r.incomplete) {
    assert.fail(`expected ${status}, got ${JSON.stringify(r)} for ${JSON.stringify(text)}`);
  }
  assert.equal(r.status, status, `${r.reason} for ${JSON.stringify(text)}`);
  return r.reason;
}

function incomplete(text: string): void {
  const r = parse(text);
  assert.deepEqual(r, { ok: false, incomplete: true }, JSON.stringify(text));
}

Deno.test("parseHead() reads a simple HTTP/1.1 GET", () => {
  const r = ok("GET /a/b?c=d HTTP/1.1\r\nHost: example.com\r\nX-Thing:  v  \r\n\r\n");
  assert.deepEqual(r.head, {
    method: "GET",
    target: "/a/b?c=d",
    version: "1.1",
    headers: [["Host", "example.com"], ["X-Thing", "v"]],
  });
  assert.equal(r.bodyKind, "none");
  assert.equal(r.keepAlive, true);
  assert.equal(r.upgrade, false);
  assert.equal(r.consumed, 59);
});

Deno.test("parseHead() starts at an offset and reports bytes consumed from it", () => {
  const buf = Buffer.from("xxGET / HTTP/1.1\r\nHost: a\r\n\r\nrest", "latin1");
  const r = parseHead(buf, 2, LIMITS);
  assert.ok(r.ok);
  assert.equal(buf.subarray(2 + r.consumed).toString(), "rest");
});

Deno.test("parseHead() ignores empty lines before the request line (RFC 9112 §2.2)", () => {
  const r = ok("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
  assert.equal(r.consumed, 31);
});

Deno.test("parseHead() keeps original header name casing and obs-text values", () => {
  const r = ok("GET / HTTP/1.1\r\nhOsT: a\r\nX-Latin: caf\xe9\r\n\r\n");
  assert.deepEqual(r.head.headers, [["hOsT", "a"], ["X-Latin", "caf\xe9"]]);
});

Deno.test("parseHead() waits for the empty line", () => {
  incomplete("");
  incomplete("GET / HTTP/1.1\r\nHost: a\r\n");
  incomplete("GET / HTTP/1.1\r\nHost: a\r\n\r");
  incomplete("\r");
});

Deno.test("parseHead() refuses bare LF and bare CR even before the head is complete", () => {
  assert.equal(rejected("GET / HTTP/1.1\nHost: a\n\n"), "bare LF");
  assert.equal(rejected("GET / HTTP/1.1\nHost: a"), "bare LF");
  assert.equal(rejected("GET / HTTP/1.1\rHost: a"), "bare CR");
  rejected("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n");
  rejected("GET / HTTP/1.1\r\nHost: a\r\nX: a\nb\r\n\r\n");
  rejected("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n");
  rejected("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
  rejected("\rGET / HTTP/1.1\r\nHost: a\r\n\r\n");
});

Deno.test("parseHead() refuses NUL and other control characters", () => {
  rejected("GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n");
  rejected("GET / HTTP/1.1\r\nHost: a\r\nX: a\x0bb\r\n\r\n");
  rejected("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n");
  rejected("GET / HTTP/1.1\r\nHost: a\r\nX\x00: b\r\n\r\n");
  rejected("GET /\x00 HTTP/1.1\r\nHost: a\r\n\r\n");
  assert.equal(rejected("GET / HTTP/1.1\r\nHost: a\x00"), "NUL in head");
  // HTAB is allowed inside values.
  assert.deepEqual(ok("GET / HTTP/1.1\r\nHost: a\r\nX: a\tb\r\n\r\n").head.headers[1], [
    "X",
    "a\tb",
  ]);
});

Deno.test("parseHead() refuses malformed request lines", () => {
  rejected("GET  / HTTP/1.1\r\nHost: a\r\n\r\n");
  rejected("GET / HTTP/1.1 \r\nHost: a\r\n\r\n");
  rejected(" GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  rejected("GET /\tx HTTP/1.1\r\nHost: a\r\n\r\n");
  rejected("GET / x HTTP/1.1\r\nHost: a\r\n\r\n");
  rejected("GE(T / HTTP/1.1\r\nHost: a\r\n\r\n");
  rejected("GET /\xe9 HTTP/1.1\r\nHost: a\r\n\r\n");
  rejected("GET / http/1.1\r\nHost: a\r\n\r\n");
  rejected("GET / HTTP/1.1x\r\nHost: a\r\n\r\n");
  rejected("GET / HTTP/01.1\r\nHost: a\r\n\r\n");
  rejected("GET /\r\nHost: a\r\n\r\n");
  rejected("GET\r\n\r\n");
});

Deno.test("parseHead() accepts only HTTP/1.0 and HTTP/1.1", () => {
  rejected("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505);
  rejected("GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505);
  assert.equal(ok("GET / HTTP/1.0\r\n\r\n").head.version, "1.0");
});

Deno.test("parseHead() checks the request-target form (RFC 9112 §3.2)", () => {
  ok("GET http://example.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n");
  ok("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
  rejected("GET * HTTP/1.1\r\nHost: a\r\n\r\n");
  rejected("GET example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n");
  rejected("GET x HTTP/1.1\r\nHost: a\r\n\r\n");
  rejected("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n", 405);
});

Deno.test("parseHead() refuses invalid field names and whitespace before the colon", () => {
  rejected("GET / HTTP/1.1\r\nHost: a\r\nX Y: b\r\n\r\n");
  rejected("GET / HTTP/1.1\r\nHost: a\r\nX : b\r\n\r\n");
  rejected("GET / HTTP/1.1\r\nHost: a\r\nX\t: b\r\n\r\n");
  rejected("GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n");
  rejected("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n");
  rejected("GET / HTTP/1.1\r\nHost: a\r\nX(y): b\r\n\r\n");
});

Deno.test("parseHead() refuses obsolete line folding (RFC 9112 §5.2)", () => {
  assert.equal(
    rejected("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n"),
    "obsolete line folding",
  );
  assert.equal(
    rejected("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tc\r\n\r\n"),
    "obsolete line folding",
  );
  rejected("GET / HTTP/1.1\r\n Host: a\r\n\r\n");
});

Deno.test("parseHead() requires exactly one valid Host in HTTP/1.1 (RFC 9112 §3.2)", () => {
  assert.equal(rejected("GET / HTTP/1.1\r\n\r\n"), "missing Host");
  assert.equal(rejected("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"), "multiple Host fields");
  rejected("GET / HTTP/1.1\r\nHost: a b\r\n\r\n");
  rejected("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n");
  rejected("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n");
  ok("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n");
  ok("GET / HTTP/1.1\r\nHost: \r\n\r\n");
  ok("GET / HTTP/1.0\r\n\r\n");
});

Deno.test("parseHead() reads Content-Length strictly (RFC 9110 §8.6)", () => {
  assert.deepEqual(
    ok("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n").bodyKind,
    { length: 42 },
  );
  assert.equal(ok("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n").bodyKind, "none");
  assert.deepEqual(
    ok("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:   7 \r\n\r\n").bodyKind,
    { length: 7 },
  );
  for (
    const v of ["+5", "-5", "0x10", "5 5", "5,5", "5, 5", "", "1e3", "5.0", "999999999999999999"]
  ) {
    rejected(`POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${v}\r\n\r\n`);
  }
  assert.equal(
    rejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"),
    "repeated Content-Length",
  );
  rejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n");
});

Deno.test("parseHead() accepts Transfer-Encoding: chunked only, alone and once", () => {
  assert.equal(
    ok("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n").bodyKind,
    "chunked",
  );
  assert.equal(
    ok("POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding: CHUNKED\r\n\r\n").bodyKind,
    "chunked",
  );
  // OWS around the value is allowed (RFC 9110 §5.5).
  assert.equal(
    ok("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \t chunked \t\r\n\r\n").bodyKind,
    "chunked",
  );
  for (
    const v of [
      "chunked, identity",
      "identity, chunked",
      "gzip, chunked",
      "xchunked",
      "chunked;q=1",
      "chunk",
      "chunked chunked",
      '"chunked"',
      "identity",
      "",
      "\x0bchunked",
      "chunked\x0c",
    ]
  ) {
    const r = parse(`POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ${v}\r\n\r\n`);
    assert.ok(!r.ok && !r.incomplete && r.status === 400, JSON.stringify(v));
  }
  rejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n");
  assert.equal(
    rejected(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
    ),
    "repeated Transfer-Encoding",
  );
  rejected(
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n",
  );
});

Deno.test("parseHead() refuses framing-field look-alikes with underscores", () => {
  assert.equal(
    rejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer_Encoding: chunked\r\n\r\n"),
    "framing field look-alike",
  );
  rejected("POST / HTTP/1.1\r\nHost: a\r\ncontent_length: 5\r\n\r\n");
  ok("GET / HTTP/1.1\r\nHost: a\r\nX_Other: 1\r\n\r\n");
});

Deno.test("parseHead() refuses Content-Length with Transfer-Encoding (RFC 9112 §6.1)", () => {
  assert.equal(
    rejected(
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n",
    ),
    "both Content-Length and Transfer-Encoding",
  );
  rejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n");
});

Deno.test("parseHead() refuses Transfer-Encoding in HTTP/1.0 (RFC 9112 §6.1)", () => {
  assert.equal(
    rejected("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
    "Transfer-Encoding in HTTP/1.0",
  );
});

Deno.test("parseHead() decides keep-alive by version and Connection (RFC 9112 §9.3)", () => {
  assert.equal(ok("GET / HTTP/1.1\r\nHost: a\r\n\r\n").keepAlive, true);
  assert.equal(ok("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").keepAlive, false);
  assert.equal(ok("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, Close\r\n\r\n").keepAlive, false);
  assert.equal(ok("GET / HTTP/1.0\r\n\r\n").keepAlive, false);
  assert.equal(ok("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keepAlive, true);
  assert.equal(
    ok("GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n").keepAlive,
    false,
  );
});

Deno.test("parseHead() detects upgrades (RFC 9110 §7.8)", () => {
  const ws =
    "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n";
  assert.equal(ok(ws).upgrade, true);
  assert.equal(ok("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n").upgrade, false);
  assert.equal(ok("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n").upgrade, false);
  // Ignored in HTTP/1.0, and with a body (the server may ignore Upgrade).
  assert.equal(
    ok("GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n").upgrade,
    false,
  );
  assert.equal(
    ok(
      "POST / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: h2c\r\nContent-Length: 3\r\n\r\n",
    ).upgrade,
    false,
  );
});

Deno.test("parseHead() answers 431 for heads over the limit", () => {
  const limits = { maxHeadBytes: 64, maxHeaders: 3 };
  const big = "GET / HTTP/1.1\r\nHost: a\r\nX: " + "a".repeat(60) + "\r\n\r\n";
  const r = parse(big, limits);
  assert.ok(!r.ok && !r.incomplete && r.status === 431);
  // Incomplete but already over the limit: no need to wait for the rest.
  const partial = parse("GET / HTTP/1.1\r\nHost: a\r\nX: " + "a".repeat(60), limits);
  assert.ok(!partial.ok && !partial.incomplete && partial.status === 431);
  // Exactly at the limit is fine.
  const prefix = "GET / HTTP/1.1\r\nHost: a\r\nX: ";
  const exact = prefix + "a".repeat(64 - prefix.length - 4) + "\r\n\r\n";
  assert.equal(exact.length, 64);
  assert.ok(parse(exact, limits).ok);
  const many = parse("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits);
  assert.ok(!many.ok && !many.incomplete && many.status === 431);
});

Deno.test("parseHead() finds heads longer than its first scan window", () => {
  const r = parseHead(
    Buffer.from("GET / HTTP/1.1\r\nHost: a\r\nX: " + "b".repeat(5000) + "\r\n\r\n"),
    0,
    { maxHeadBytes: 8192 },
  );
  assert.ok(r.ok);
  assert.equal(r.head.headers[1]![1].length, 5000);
});
