import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { parseResponseHead, type ParseResponseHeadResult } from "./parse_response_head.ts";

function parse(text: string, requestMethod = "GET"): ParseResponseHeadResult {
  return parseResponseHead(Buffer.from(text, "latin1"), 0, { requestMethod, maxHeadBytes: 512 });
}

function ok(text: string, requestMethod = "GET") {
  const r = parse(text, requestMethod);
  if (!r.ok) assert.fail(`expected ok, got ${JSON.stringify(r)}`);
  return r;
}

function bad(text: string): string {
  const r = parse(text);
  if (r.ok || r.incomplete) assert.fail(`expected an error for ${JSON.stringify(text)}`);
  return r.reason;
}

Deno.test("parseResponseHead() reads status, reason, headers and Content-Length framing", () => {
  const r = ok("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello");
  assert.equal(r.status, 200);
  assert.equal(r.reason, "OK");
  assert.equal(r.version, "1.1");
  assert.deepEqual(r.headers, [["Content-Length", "5"], ["X-A", "b"]]);
  assert.deepEqual(r.bodyKind, { length: 5 });
  assert.equal(r.keepAlive, true);
  assert.equal(r.consumed, 46);
});

Deno.test("parseResponseHead() waits for the whole head", () => {
  assert.deepEqual(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"), {
    ok: false,
    incomplete: true,
  });
});

Deno.test("parseResponseHead() tolerates an empty reason with or without its space", () => {
  assert.equal(ok("HTTP/1.1 204 \r\n\r\n").reason, "");
  assert.equal(ok("HTTP/1.1 204\r\n\r\n").status, 204);
});

Deno.test("parseResponseHead() frames bodies by RFC 9112 §6.3", () => {
  assert.equal(ok("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").bodyKind, "chunked");
  const close = ok("HTTP/1.1 200 OK\r\n\r\n");
  assert.equal(close.bodyKind, "close");
  assert.equal(close.keepAlive, false);
  assert.equal(ok("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").bodyKind, "none");
  // No body whatever the fields say: HEAD, 1xx, 204, 304.
  assert.equal(ok("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD").bodyKind, "none");
  assert.equal(ok("HTTP/1.1 204 No Content\r\n\r\n").bodyKind, "none");
  assert.equal(ok("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n").bodyKind, "none");
  assert.equal(ok("HTTP/1.1 100 Continue\r\n\r\n").bodyKind, "none");
  assert.equal(ok("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n").bodyKind, "none");
  // TE beats CL, and the connection is not reused (rule 3).
  const both = ok("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
  assert.equal(both.bodyKind, "chunked");
  assert.equal(both.keepAlive, false);
  // A final coding other than chunked: delimited by close.
  const gz = ok("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n");
  assert.equal(gz.bodyKind, "close");
  // Identical repeated Content-Length may be folded (RFC 9110 §8.6).
  assert.deepEqual(
    ok("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n").bodyKind,
    { length: 3 },
  );
});

Deno.test("parseResponseHead() decides reuse from version and Connection", () => {
  assert.equal(
    ok("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n").keepAlive,
    false,
  );
  assert.equal(ok("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n").keepAlive, false);
  assert.equal(
    ok("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n").keepAlive,
    true,
  );
});

Deno.test("parseResponseHead() refuses what it cannot frame", () => {
  assert.equal(
    bad("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"),
    "conflicting Content-Length",
  );
  assert.equal(bad("HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\n"), "invalid Content-Length");
  assert.equal(bad("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\n"), "invalid Content-Length");
  assert.equal(
    bad("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"),
    "chunked applied twice",
  );
  assert.equal(
    bad("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
    "Transfer-Encoding in HTTP/1.0 response",
  );
  assert.equal(bad("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n"), "obsolete line folding");
  bad("HTTP/1.1 200 OK\r\nX: a\nY: b\r\n\r\n");
  bad("HTTP/1.1 200 OK\r\nX: a\rY: b\r\n\r\n");
  bad("HTTP/1.1 200 OK\r\nX: a\x00\r\n\r\n");
  bad("HTTP/1.1 200 OK\r\nX Y: a\r\n\r\n");
  bad("HTTP/1.1 200 O\x01K\r\n\r\n");
  bad("HTTP/2 200 OK\r\n\r\n");
  bad("HTTP/1.1 20 OK\r\n\r\n");
  bad("HTTP/1.1 999 OK\r\n\r\n");
  bad("HTTP/1.1 200OK\r\n\r\n");
  assert.equal(
    bad("HTTP/1.1 200 OK\r\nX: " + "a".repeat(600) + "\r\n\r\n"),
    "response head too large",
  );
});
