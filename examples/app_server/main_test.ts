/** The example app server as its README runs it, against a real controller and drone. */
import assert from "node:assert/strict";
import { startTestController } from "../../controller/testing/test_controller.ts";
import { startTestDrone, waitForSchedulable } from "../../tests/env.ts";
import { createPlaneClient } from "../../shared/client.ts";

const CLUSTER = "localhost:9090";
const MAIN = new URL("./main.ts", import.meta.url).pathname;

/** Starts main.ts on a free port and resolves with its URL once it says it is listening. */
async function startAppServer(env: Record<string, string>) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", MAIN],
    env: { ...env, PORT: "0", "NO_COLOR": "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    await child.status;
  };
  // Deno.serve announces its address on stderr.
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  let url: string | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`app server did not start: ${seen}`)), 20_000);
  });
  try {
    while (url === null) {
      const { done, value } = await Promise.race([reader.read(), timeout]);
      if (done) throw new Error(`app server exited: ${seen}`);
      seen += value;
      url = /Listening on (http:\/\/[^/\s]+)/.exec(seen)?.[1] ?? null;
    }
  } catch (err) {
    await stop();
    await reader.cancel();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  // Keep draining stderr so the child never blocks on a full pipe.
  const drained = (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })();
  return {
    url,
    async [Symbol.asyncDispose]() {
      await stop();
      await drained;
    },
  };
}

Deno.test("examples/app_server redirects GET /room/NAME to a backend keyed by NAME", async () => {
  await using t = await startTestController({ defaultCluster: CLUSTER });
  await using d = await startTestDrone({ controllerUrl: t.url, cluster: CLUSTER });
  await waitForSchedulable(t.db, d.drone.name);
  await using app = await startAppServer({ PLANE_CONTROLLER_URL: t.url, PLANE_IMAGE: "echo" });

  const first = await fetch(`${app.url}/room/lobby`, { redirect: "manual" });
  await first.body?.cancel();
  assert.equal(first.status, 302);
  assert.match(first.headers.get("location")!, /^http:\/\/localhost:9090\/[\w-]{43}\/$/);
  const second = await fetch(`${app.url}/room/lobby`, { redirect: "manual" });
  await second.body?.cancel();
  assert.equal(second.status, 302);
  assert.notEqual(second.headers.get("location"), first.headers.get("location"), "new token");

  const plane = createPlaneClient({ controllerUrl: t.url });
  const { backends } = await plane.listBackends(CLUSTER);
  assert.equal(backends.length, 1, "one backend per room");
  assert.deepEqual(backends[0]!.key, { name: "lobby", namespace: "", tag: "" });
  assert.equal(backends[0]!.allowed_idle_seconds, 300);
  await plane.terminate(backends[0]!.id);
  for await (const _ of plane.statusStream(backends[0]!.id)) { /* until terminated */ }

  const missing = await fetch(`${app.url}/nowhere`);
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
});

Deno.test("examples/app_server answers 503 with the error id when the controller refuses", async () => {
  await using t = await startTestController(); // no drone, no default cluster
  await using app = await startAppServer({ PLANE_CONTROLLER_URL: t.url, PLANE_IMAGE: "echo" });
  const response = await fetch(`${app.url}/room/lobby`, { redirect: "manual" });
  assert.equal(response.status, 503);
  assert.match(
    await response.text(),
    /^Could not open the room \(NoClusterProvided, error id [a-z0-9]{14}\)/,
  );
});
