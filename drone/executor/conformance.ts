/**
 * One conformance suite for every `Executor` (style.md §10): the Docker, local-process and fake
 * runtimes all run it, so the fake cannot drift from reality.
 */
import assert from "node:assert/strict";
import type { Executor, ExitEvent } from "./executor.ts";
import { type AcquiredKey, type BackendName, randomBackendName } from "../../shared/mod.ts";
import { waitFor } from "../../testing/wait_for.ts";

export interface ExecutorFixture extends AsyncDisposable {
  executor: Executor;
  /** An image the runtime can run: the echo backend of testdata/. */
  image: string;
  /** An executable the runtime cannot run (for Docker: a registry on a closed loopback port). */
  missing?: Record<string, unknown>;
}

const key: AcquiredKey = {
  key: { name: "room-1", namespace: "ns", tag: "" },
  deadlines: { renew_at: 0, soft_terminate_at: 0, hard_terminate_at: 0 },
  token: 1719829970123,
};

function exitOf(executor: Executor, backendId: string, timeoutMs = 20_000): Promise<ExitEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`No exit event for ${backendId}`)), timeoutMs);
    executor.onExit((event) => {
      if (event.backendId === backendId) {
        clearTimeout(timer);
        resolve(event);
      }
    });
  });
}

/** Spawns the fixture's echo image and waits until it is ready. */
async function spawnReady(
  f: ExecutorFixture,
): Promise<{ backendId: BackendName; address: string }> {
  const backendId = randomBackendName();
  const { address } = await f.executor.spawn({
    backendId,
    executable: { image: f.image },
    key,
    staticToken: null,
  });
  assert.equal(await f.executor.waitForReady(backendId, address), "ready");
  return { backendId, address };
}

async function getJson(address: string, path = "/") {
  const response = await fetch(`http://${address}${path}`);
  return await response.json();
}

export function runExecutorConformance(
  name: string,
  makeFixture: () => Promise<ExecutorFixture>,
  options: { ignore?: boolean } = {},
): void {
  const test = (title: string, fn: () => Promise<void>) =>
    Deno.test({ name: `${name}: ${title}`, ignore: options.ignore ?? false, fn });

  test("prepare() refuses an image it cannot run", async () => {
    await using f = await makeFixture();
    await assert.rejects(f.executor.prepare(f.missing ?? { image: "no-such-image-xyz" }));
  });

  test("spawn() refuses reserved SESSION_BACKEND_* and PLANE_* names in env (issue 10)", async () => {
    await using f = await makeFixture();
    for (const name of ["SESSION_BACKEND_STATIC_TOKEN", "SESSION_BACKEND_ID", "PLANE_X"]) {
      const executable = { image: f.image, env: { [name]: "forged" } };
      await assert.rejects(
        (async () => {
          await f.executor.prepare(executable);
          await f.executor.spawn({
            backendId: randomBackendName(),
            executable,
            key,
            staticToken: null,
          });
        })(),
        /reserved for the platform/,
        name,
      );
    }
  });

  test("spawn() starts a backend that becomes ready with PORT and SESSION_BACKEND_* set", async () => {
    await using f = await makeFixture();
    const backendId = randomBackendName();
    const executable = { image: f.image, env: { USER_VAR: "u", PORT: "1" } };
    await f.executor.prepare(executable);
    const { address } = await f.executor.spawn({
      backendId,
      executable,
      key,
      staticToken: "s.tok",
    });
    assert.match(address, /^127\.0\.0\.1:\d+$/);
    assert.equal(await f.executor.waitForReady(backendId, address), "ready");
    const { env } = await getJson(address);
    assert.equal(env.PORT, address.split(":")[1], "Plane's variables override the user's");
    assert.equal(env.SESSION_BACKEND_ID, backendId);
    assert.equal(env.SESSION_BACKEND_KEY, "room-1");
    assert.equal(env.SESSION_BACKEND_FENCING_TOKEN, "1719829970123");
    assert.equal(env.SESSION_BACKEND_STATIC_TOKEN, "s.tok");
    assert.equal(env.USER_VAR, "u");
    const exited = exitOf(f.executor, backendId);
    assert.equal(await f.executor.terminate(backendId, { hard: true }), true);
    assert.equal((await exited).exitCode, 137);
  });

  test("soft terminate() stops the backend and reports its exit code", async () => {
    await using f = await makeFixture();
    const { backendId } = await spawnReady(f);
    const exited = exitOf(f.executor, backendId);
    assert.equal(await f.executor.terminate(backendId, { hard: false }), true);
    assert.equal((await exited).exitCode, 143);
    assert.equal(await f.executor.terminate(backendId, { hard: true }), false, "already gone");
  });

  test("a backend that exits by itself is reported with its exit code", async () => {
    await using f = await makeFixture();
    const { backendId, address } = await spawnReady(f);
    const exited = exitOf(f.executor, backendId);
    await (await fetch(`http://${address}/exit?code=3`)).body?.cancel();
    assert.deepEqual(await exited, { backendId, exitCode: 3 });
  });

  test("terminate() of an unknown backend returns false", async () => {
    await using f = await makeFixture();
    assert.equal(await f.executor.terminate(randomBackendName(), { hard: true }), false);
  });

  test("metrics() samples a running backend's memory and answers null once it exited", async () => {
    await using f = await makeFixture();
    const { backendId } = await spawnReady(f);
    const sample = await f.executor.metrics(backendId);
    assert.ok(sample, "a running backend has metrics");
    assert.equal(sample.backend_id, backendId);
    assert.ok(sample.mem_used > 0, `mem_used ${sample.mem_used}`);
    const exited = exitOf(f.executor, backendId);
    await f.executor.terminate(backendId, { hard: true });
    await exited;
    assert.equal(await f.executor.metrics(backendId), null);
    assert.equal(await f.executor.metrics(randomBackendName()), null);
  });

  test("logs() holds the backend's stdout and stderr lines", async () => {
    await using f = await makeFixture();
    const { backendId, address } = await spawnReady(f);
    await waitFor(() => f.executor.logs(backendId).length >= 2, { message: "two log lines" });
    const lines = f.executor.logs(backendId).map((l) => `${l.stream}:${l.text}`);
    assert.ok(lines.includes(`stdout:listening on ${address.split(":")[1]}`), lines.join("\n"));
    assert.ok(lines.includes("stderr:stderr hello"), lines.join("\n"));
    const exited = exitOf(f.executor, backendId);
    await f.executor.terminate(backendId, { hard: true });
    await exited;
  });
}
