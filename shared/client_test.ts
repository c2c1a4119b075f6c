/**
 * `createPlaneClient()` against a scripted `fetch` (no server): URLs, credentials, error
 * mapping and stream resumption. `tests/client_test.ts` runs it against a real controller.
 */
import assert from "node:assert/strict";
import {
  createPlaneClient,
  parseControllerUrl,
  PlaneApiError,
  PlaneProtocolError,
} from "./client.ts";

interface Sent {
  url: string;
  method: string;
  headers: Headers;
  body: string | null;
}

/** A `fetch` answering from `answer(request, index)` and recording what was sent. */
function scripted(answer: (sent: Sent, index: number) => Response) {
  const sent: Sent[] = [];
  const fetch = (input: RequestInfo | URL, init?: RequestInit) => {
    const request: Sent = {
      url: String(input),
      method: init?.method ?? "GET",
      headers: new Headers(init?.headers),
      body: typeof init?.body === "string" ? init.body : null,
    };
    sent.push(request);
    return Promise.resolve(answer(request, sent.length - 1));
  };
  return { sent, fetch };
}

function sse(text: string): Response {
  return new Response(text, { headers: { "content-type": "text/event-stream" } });
}

const entry = (status: string, time = 1) =>
  `data: {"status":"${status}","time":${time}}\nid: ${status}\n\n`;

Deno.test("parseControllerUrl() moves a username to the bearer key and trims the base", () => {
  assert.deepEqual(parseControllerUrl("http://secret-key@example.com:8080/plane/?x=1"), {
    base: "http://example.com:8080/plane",
    apiKey: "secret-key",
  });
  assert.deepEqual(parseControllerUrl("https://example.com"), { base: "https://example.com" });
  assert.throws(() => parseControllerUrl("not a url"), TypeError);
});

Deno.test("createPlaneClient() sends the key to /ctrl/* only and JSON bodies on POST", async () => {
  const { sent, fetch } = scripted((r) =>
    r.url.endsWith("/terminate")
      ? Response.json(null)
      : r.url.includes("/pub/")
      ? Response.json({ status: "ready", time: 5 })
      : Response.json({ updated: true })
  );
  const plane = createPlaneClient({ controllerUrl: "http://url-key@127.0.0.1:1/", fetch });
  await plane.drain("localhost:9090", "dr-one");
  await plane.status("abc");
  await plane.waitReady("abc", { timeoutSeconds: 2.5 });
  const withOption = createPlaneClient({
    controllerUrl: "http://url-key@127.0.0.1:1",
    apiKey: "option-key",
    fetch,
  });
  await withOption.undrain("localhost:9090", "dr-one");
  assert.deepEqual(sent.map((s) => `${s.method} ${s.url}`), [
    "POST http://127.0.0.1:1/ctrl/c/localhost%3A9090/d/dr-one/drain",
    "GET http://127.0.0.1:1/pub/b/abc/status",
    "GET http://127.0.0.1:1/pub/b/abc/status?wait=ready&timeout=3",
    "POST http://127.0.0.1:1/ctrl/c/localhost%3A9090/d/dr-one/undrain",
  ]);
  assert.equal(sent[0]!.headers.get("authorization"), "Bearer url-key");
  assert.equal(sent[0]!.headers.get("content-type"), "application/json");
  assert.equal(sent[0]!.body, "null");
  // A browser would need a CORS preflight for Authorization; public routes need no key.
  assert.equal(sent[1]!.headers.get("authorization"), null);
  assert.equal(sent[3]!.headers.get("authorization"), "Bearer option-key");
});

Deno.test("createPlaneClient() maps error answers to PlaneApiError and odd ones to PlaneProtocolError", async () => {
  const answers = [
    Response.json({ id: "abcdefghijklmn", kind: "KeyHeld", message: "Lock is held" }, {
      status: 409,
    }),
    new Response("Unauthorized\n", { status: 401 }),
    new Response("<html>bad gateway</html>", { status: 502 }),
    Response.json({ unexpected: true }),
  ];
  const { fetch } = scripted((_, i) => answers[i]!);
  const plane = createPlaneClient({ controllerUrl: "http://127.0.0.1:1", fetch });
  await assert.rejects(plane.connect({}), (err) => {
    assert.ok(err instanceof PlaneApiError);
    assert.deepEqual([err.status, err.kind, err.message, err.id], [
      409,
      "KeyHeld",
      "Lock is held",
      "abcdefghijklmn",
    ]);
    return true;
  });
  await assert.rejects(plane.controllerStatus(), (err) => {
    assert.ok(err instanceof PlaneApiError);
    assert.deepEqual([err.status, err.kind, err.message, err.id], [
      401,
      "Unauthorized",
      "Unauthorized",
      null,
    ]);
    return true;
  });
  await assert.rejects(
    plane.clusterState("c"),
    (err) => err instanceof PlaneApiError && err.kind === "Other" && err.status === 502,
  );
  await assert.rejects(
    plane.backend("abc"),
    (err) => err instanceof PlaneProtocolError && /GET \/ctrl\/b\/abc at id/.test(err.message),
  );
});

Deno.test("statusStream() resumes with Last-Event-ID, skips repeats and stops at terminated", async () => {
  const bodies = [
    sse(": keep-alive\n\n" + entry("scheduled") + entry("loading")),
    new Response("upstream hiccup", { status: 503 }),
    // An older server ignoring Last-Event-ID repeats what was seen: those are skipped.
    sse(entry("scheduled") + entry("loading") + entry("ready")),
    sse(entry("terminated")),
  ];
  const { sent, fetch } = scripted((_, i) => bodies[i]!);
  const plane = createPlaneClient({
    controllerUrl: "http://127.0.0.1:1",
    fetch,
    reconnectDelayMs: 1,
  });
  const seen: string[] = [];
  for await (const e of plane.statusStream("abc")) seen.push(e.status);
  assert.deepEqual(seen, ["scheduled", "loading", "ready", "terminated"]);
  assert.deepEqual(sent.map((s) => s.headers.get("last-event-id")), [
    null,
    "loading",
    "loading",
    "ready",
  ]);
  assert.equal(sent[0]!.headers.get("accept"), "text/event-stream");
});

Deno.test("statusStream() gives up on a 404 and rejects with the abort reason", async () => {
  const notFound = scripted(() =>
    Response.json({ id: "abcdefghijklmn", kind: "NotFound", message: "No such backend" }, {
      status: 404,
    })
  );
  const plane = createPlaneClient({ controllerUrl: "http://127.0.0.1:1", fetch: notFound.fetch });
  await assert.rejects(async () => {
    for await (const _ of plane.statusStream("abc")) { /* nothing arrives */ }
  }, (err) => err instanceof PlaneApiError && err.status === 404);
  assert.equal(notFound.sent.length, 1);

  // A stream that keeps ending without news waits between attempts until aborted.
  const abort = new AbortController();
  const empty = scripted((_, i) => {
    if (i === 2) abort.abort(new Error("stop"));
    return sse(": nothing\n\n");
  });
  const idle = createPlaneClient({
    controllerUrl: "http://127.0.0.1:1",
    fetch: empty.fetch,
    reconnectDelayMs: 1,
  });
  await assert.rejects(async () => {
    for await (const _ of idle.statusStream("abc", { signal: abort.signal })) { /* none */ }
  }, /stop/);
  assert.equal(empty.sent.length, 3);
});

Deno.test("logs() yields parsed lines and asks for the tail only without follow", async () => {
  const { sent, fetch } = scripted(() =>
    sse(
      'data: {"stream":"stdout","text":"hi","time":1}\n\n' +
        'data: {"stream":"stderr","text":"oops","time":2}\n\n',
    )
  );
  const plane = createPlaneClient({ controllerUrl: "http://127.0.0.1:1", apiKey: "k", fetch });
  const lines = [];
  for await (const line of plane.logs("abc", { follow: false })) lines.push(line);
  assert.deepEqual(lines, [
    { stream: "stdout", text: "hi", time: 1 },
    { stream: "stderr", text: "oops", time: 2 },
  ]);
  assert.equal(sent[0]!.url, "http://127.0.0.1:1/ctrl/b/abc/logs?follow=false");
  assert.equal(sent[0]!.headers.get("authorization"), "Bearer k");
});
