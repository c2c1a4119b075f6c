/**
 * Issue 11, finding 6: `plane controller` binds its port before the controller exists, and a
 * request in that window crashed (`TypeError: Cannot read properties of null (reading
 * 'fetch')`, a 500). Now such a request is the documented 503 `{id, kind, message}` with
 * `Retry-After`, and nothing else.
 */
import assert from "node:assert/strict";
import { startPlane } from "./plane_process.ts";
import { freePort } from "../testing/free_port.ts";
import { createTestDatabase } from "../controller/db/test_database.ts";
import { delay } from "../shared/delay.ts";

Deno.test("plane controller answers only 503 with Retry-After until it can serve, never a 500", async () => {
  await using database = await createTestDatabase();
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const answers: { status: number; retryAfter: string | null; body: string }[] = [];
  let served = false;
  // Workers hammer the port from before the process starts until it has answered 200.
  const hammer = async () => {
    while (!served) {
      try {
        const response = await fetch(`${url}/ctrl/status`);
        const body = await response.text();
        answers.push({
          status: response.status,
          retryAfter: response.headers.get("retry-after"),
          body,
        });
        if (response.status === 200) served = true;
      } catch {
        // Not bound yet: connection refused. Retry at once (the window is short).
        await delay(1);
      }
    }
  };
  const workers = Array.from({ length: 8 }, hammer);
  await using controller = await startPlane("controller", [
    "--db",
    database.url,
    "--port",
    String(port),
    "--log-level",
    "info",
  ]);
  const stopAt = Date.now() + 30_000;
  const timeout = setInterval(() => {
    if (Date.now() > stopAt) served = true;
  }, 100);
  await Promise.all(workers);
  clearInterval(timeout);
  await controller.waitForLog((l) => l.message === "Controller listening");

  assert.ok(answers.some((a) => a.status === 200), "the controller eventually served");
  // The window is hundreds of ms (migrations, state load): the hammer always lands in it.
  assert.ok(
    answers.some((a) => a.status === 503),
    "a request arrived before the controller was ready",
  );
  for (const answer of answers) {
    if (answer.status === 200) continue;
    assert.equal(answer.status, 503, `only 503 before ready, got ${JSON.stringify(answer)}`);
    assert.equal(answer.retryAfter, "1");
    const body = JSON.parse(answer.body);
    assert.deepEqual(Object.keys(body).sort(), ["id", "kind", "message"]);
    assert.equal(body.kind, "Other");
    assert.match(body.message, /starting.*retry/i);
  }
  await controller.stop();
  const crashes = controller.logs.filter((l) => JSON.stringify(l).includes("TypeError"));
  assert.deepEqual(crashes, []);
});
