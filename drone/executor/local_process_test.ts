import assert from "node:assert/strict";
import { runExecutorConformance } from "./conformance.ts";
import { LocalProcessExecutor } from "./local_process.ts";
import { randomBackendName } from "../../shared/names.ts";

const echoBackend = new URL("./testdata/echo_backend.ts", import.meta.url).pathname;

function makeExecutor(softGraceMs = 5_000) {
  return new LocalProcessExecutor({
    images: {
      echo: { command: [Deno.execPath(), "run", "--allow-net", "--allow-env", echoBackend] },
    },
    softGraceMs,
  });
}

runExecutorConformance("LocalProcessExecutor", () => {
  const executor = makeExecutor();
  return Promise.resolve({
    executor,
    image: "echo",
    [Symbol.asyncDispose]: () => executor.close(),
  });
});

Deno.test("LocalProcessExecutor names the mapped images when refusing an unmapped one", async () => {
  const executor = makeExecutor();
  await assert.rejects(
    executor.prepare({ image: "redis" }),
    /Cannot run image "redis": it is not mapped to a command .*\(mapped: echo\)/,
  );
  await executor.close();
});

Deno.test("LocalProcessExecutor kills the whole process group, and escalates to SIGKILL after the grace period", async () => {
  // A shell that ignores SIGTERM and starts a grandchild: only SIGKILL of the group ends both.
  const executor = new LocalProcessExecutor({
    images: {
      stubborn: { command: ["bash", "-c", "trap '' TERM; sleep 300 & echo child $!; wait"] },
    },
    softGraceMs: 200,
  });
  const backendId = randomBackendName();
  const key = {
    key: { name: "k", namespace: "", tag: "" },
    deadlines: { renew_at: 0, soft_terminate_at: 0, hard_terminate_at: 0 },
    token: 1,
  };
  await executor.spawn({ backendId, executable: { image: "stubborn" }, key, staticToken: null });
  let childPid = 0;
  const deadline = Date.now() + 10_000;
  while (childPid === 0 && Date.now() < deadline) {
    const line = executor.logs(backendId).find((l) => l.text.startsWith("child "));
    if (line) childPid = Number(line.text.slice(6));
    else await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(childPid > 0);
  const exited = new Promise<number | null>((resolve) =>
    executor.onExit((e) => e.backendId === backendId && resolve(e.exitCode))
  );
  assert.equal(await executor.terminate(backendId, { hard: false }), true);
  assert.equal(await exited, 137, "SIGTERM was ignored, so SIGKILL ended it");
  // The grandchild is gone too (kill -0 fails once it is reaped or never existed).
  const gone = Date.now() + 5_000;
  let alive = true;
  while (alive && Date.now() < gone) {
    try {
      Deno.kill(childPid, "SIGCONT");
      const stat = await Deno.readTextFile(`/proc/${childPid}/stat`).catch(() => "");
      alive = stat !== "" && !/\) Z /.test(stat);
      if (alive) await new Promise((r) => setTimeout(r, 20));
    } catch {
      alive = false;
    }
  }
  assert.equal(alive, false, "the grandchild process was killed with its group");
  await executor.close();
});

Deno.test("LocalProcessExecutor refuses an env name a runtime reads as code unless the image allows it (issue 10, finding 4)", async () => {
  const command = [Deno.execPath(), "run", "--allow-net", "--allow-env", echoBackend];
  const executor = new LocalProcessExecutor({
    images: { echo: { command }, "echo-py": { command, allowEnv: ["PYTHONPATH"] } },
  });
  const key = {
    key: { name: "k", namespace: "", tag: "" },
    deadlines: { "renew_at": 0, "soft_terminate_at": 0, "hard_terminate_at": 0 },
    token: 1,
  };
  try {
    for (
      const [name, message] of [
        ["NODE_OPTIONS", /"NODE_OPTIONS".*"allowEnv" on image "echo"/],
        ["LD_PRELOAD", /"LD_PRELOAD"/],
        ["PATH", /"PATH"/],
        ["node_options", /"node_options"/],
        ["SESSION_BACKEND_STATIC_TOKEN", /reserved for the platform/],
        ["A=B", /'='/],
      ] as const
    ) {
      const executable = { image: "echo", env: { [name]: "x" } };
      await assert.rejects(executor.prepare(executable), message, name);
      const backendId = randomBackendName();
      await assert.rejects(executor.spawn({ backendId, executable, key, staticToken: null }));
    }
    // Allowed for one image is not allowed for another, nor is a different name.
    await assert.rejects(
      executor.prepare({ image: "echo", env: { PYTHONPATH: "/x" } }),
      /"PYTHONPATH"/,
    );
    await assert.rejects(
      executor.prepare({ image: "echo-py", env: { PYTHONSTARTUP: "/x" } }),
      /"PYTHONSTARTUP"/,
    );

    const backendId = randomBackendName();
    const executable = { image: "echo-py", env: { PYTHONPATH: "/opt/app", USER_VAR: "u" } };
    await executor.prepare(executable);
    const { address } = await executor.spawn({ backendId, executable, key, staticToken: null });
    assert.equal(await executor.waitForReady(backendId, address), "ready");
    const echoed = await (await fetch(`http://${address}/`)).json();
    assert.equal(echoed.env.PYTHONPATH, "/opt/app");
    assert.equal(echoed.env.USER_VAR, "u");
  } finally {
    await executor.close();
  }
});

Deno.test("LocalImage refuses reserved names in allowEnv", () => {
  assert.throws(
    () =>
      new LocalProcessExecutor({
        images: { x: { command: ["true"], allowEnv: ["SESSION_BACKEND_STATIC_TOKEN"] } },
      }),
    /reserved/,
  );
});
