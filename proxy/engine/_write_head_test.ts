import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { type ParsedHead, parseHead } from "./parse_head.ts";
import { appendFields, requestHeadBytes } from "./_write_head.ts";
import type { ForwardDecision, Header, RequestHead } from "./types.ts";

function parsed(text: string): ParsedHead {
  // Leading bytes, so offsets into the source buffer are not all from zero.
  const r = parseHead(Buffer.from("\r\n" + text, "latin1"), 0, { maxHeadBytes: 16384 });
  assert.ok(r.ok, JSON.stringify(r));
  return r;
}

function forward(head: RequestHead): ForwardDecision {
  return { kind: "forward", hostname: "b", port: 1, head };
}

/** What the head writer produced before it copied received bytes: the reference. */
function encoded(req: ParsedHead, head: RequestHead, tail: string): string {
  return head.method + " " + head.target + " HTTP/1.1\r\n" +
    appendFields(head.headers, { droppedHeaders: 0 }, req.upgrade, req.checked) + tail;
}

const HEAD = "GET /a?b=1 HTTP/1.1\r\nHost: app.example\r\nUser-Agent: t\r\nAccept: */*\r\n" +
  "Connection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: 5\r\nCookie: c=d\r\n\r\n";

const rewrites: [string, (h: RequestHead) => RequestHead][] = [
  ["unchanged", (h) => h],
  ["a field added", (h) => ({ ...h, headers: [...h.headers, ["x-bench", "1"]] })],
  ["a field replaced", (h) => ({
    ...h,
    headers: h.headers.map(([n, v]): Header => n === "Host" ? [n, "backend:1"] : [n, v]),
  })],
  ["fields dropped and reordered", (h) => ({
    ...h,
    headers: [h.headers[3]!, h.headers[0]!, ["X-New", "é"]],
  })],
  ["target rewritten", (h) => ({ ...h, target: "/rewritten" })],
  ["method rewritten", (h) => ({ ...h, method: "POST" })],
  ["invalid fields from routing", (h) => ({
    ...h,
    headers: [["Bad Name", "x"], ...h.headers, ["X-Inject", "a\r\nX-Evil: 1"]],
  })],
];

for (const [name, rewrite] of rewrites) {
  Deno.test(`requestHeadBytes() equals the encoded head: ${name}`, () => {
    const req = parsed(HEAD);
    const head = rewrite(req.head);
    const counters = { droppedHeaders: 0 };
    const bytes = requestHeadBytes(req, forward(head), counters);
    assert.equal(Buffer.from(bytes).toString("latin1"), encoded(req, head, "\r\n"));
    assert.equal(counters.droppedHeaders, name.startsWith("invalid") ? 2 : 0);
  });
}

Deno.test("requestHeadBytes() writes HTTP/1.1 for a 1.0 request and keeps obs-text", () => {
  const req = parsed("GET / HTTP/1.0\r\nX-Latin: caf\xe9\r\n\r\n");
  const bytes = requestHeadBytes(req, forward(req.head), { droppedHeaders: 0 });
  assert.equal(
    Buffer.from(bytes).toString("latin1"),
    "GET / HTTP/1.1\r\nX-Latin: caf\xe9\r\nHost: b:1\r\n\r\n",
  );
});

Deno.test("requestHeadBytes() copies a received line with its optional whitespace", () => {
  const req = parsed("GET / HTTP/1.1\r\nHost:  a  \r\nX-Upgrade-Not: 1\r\n\r\n");
  const bytes = requestHeadBytes(req, forward(req.head), { droppedHeaders: 0 });
  assert.equal(
    Buffer.from(bytes).toString("latin1"),
    "GET / HTTP/1.1\r\nHost:  a  \r\nX-Upgrade-Not: 1\r\n\r\n",
  );
});

Deno.test("requestHeadBytes() applies Connection to received fields only, never to Host", () => {
  const req = parsed(
    "GET / HTTP/1.1\r\nHost: a\r\nConnection: x-verified-user, host, x-hop\r\n" +
      "x-hop: 1\r\nx-verified-user: mallory\r\n\r\n",
  );
  // Routing drops the client's x-verified-user and adds its own (a field the client did not send).
  const headers: Header[] = [
    ...req.head.headers.filter(([n]) => n !== "x-verified-user"),
    ["x-verified-user", "alice"],
  ];
  const bytes = requestHeadBytes(req, forward({ ...req.head, headers }), { droppedHeaders: 0 });
  assert.equal(
    Buffer.from(bytes).toString("latin1"),
    "GET / HTTP/1.1\r\nHost: a\r\nx-verified-user: alice\r\n\r\n",
  );
});
