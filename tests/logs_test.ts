/**
 * Backend logs (decisions.md §3.4): the drone's bounded tail and live lines, relayed
 * from the drone's controller to a viewer on another controller instance.
 */
import assert from "node:assert/strict";
import { startTestController } from "../controller/testing/test_controller.ts";
import { collectStatuses, sseEntries, startTestDrone, waitForSchedulable } from "./env.ts";

const CLUSTER = "localhost:9090";

Deno.test("GET /ctrl/b/{id}/logs streams the tail then live lines, across controllers, and ends at terminated", async () => {
  await using a = await startTestController({ defaultCluster: CLUSTER });
  await using b = await a.another({ defaultCluster: CLUSTER });
  await using d = await startTestDrone({ controllerUrl: b.url, cluster: CLUSTER });
  await waitForSchedulable(a.db, d.drone.name);
  const response = await a.request("/ctrl/connect", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ "spawn_config": { executable: { image: "echo" } } }),
  });
  const { backend_id: id } = await response.json();
  await collectStatuses(a.url, id, "ready");
  const info = await (await a.request(`/ctrl/b/${id}`)).json();

  // The tail only, from the controller that does not hold the drone.
  const tailOnly = await a.request(`/ctrl/b/${id}/logs?follow=false`);
  assert.equal(tailOnly.status, 200);
  assert.equal(tailOnly.headers.get("content-type"), "text/event-stream");
  const tail: Record<string, unknown>[] = [];
  for await (const entry of sseEntries(tailOnly)) tail.push(entry);
  assert.deepEqual(
    tail.map((l) => `${l.stream}:${l.text}`).sort(),
    [`stdout:listening on ${info.address.split(":")[1]}`, "stderr:stderr hello"].sort(),
  );
  assert.equal(typeof tail[0]!.time, "number");

  // Follow: a line printed after the tail arrives live, and the stream ends at terminated.
  const followed = await a.request(`/ctrl/b/${id}/logs`);
  const entries = sseEntries(followed);
  const seen: string[] = [];
  while (seen.length < 2) seen.push(String((await entries.next()).value!.text));
  await (await fetch(`http://${info.address}/print?text=hello-live`)).body?.cancel();
  const live = await entries.next();
  assert.equal(live.value!.text, "hello-live");
  await (await fetch(`http://${info.address}/exit?code=0`)).body?.cancel();
  const rest: unknown[] = [];
  for await (const entry of entries) rest.push(entry);
  assert.deepEqual(rest, [], "no more lines; the stream ended after terminated");
});

Deno.test("GET /ctrl/b/{id}/logs answers 404 for an unknown or malformed backend, 400 for a control character", async () => {
  await using t = await startTestController();
  for (const id of ["nosuchbackend", "BAD"]) {
    const response = await t.request(`/ctrl/b/${id}/logs`);
    assert.equal(response.status, 404);
    const body = await response.json();
    assert.equal(body.kind, "NotFound");
    // Issue 12: the message names the backend asked for.
    assert.equal(body.message, `Backend ${JSON.stringify(decodeURIComponent(id))} does not exist`);
  }
  // The router refuses control characters in any path parameter (issue 10, finding 7).
  const response = await t.request("/ctrl/b/BAD%00/logs");
  assert.equal(response.status, 400);
  assert.equal((await response.json()).kind, "InvalidRequest");
});
