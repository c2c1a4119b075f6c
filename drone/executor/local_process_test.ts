import assert from "node:assert/strict";
import { runExecutorConformance } from "./conformance.ts";
import { LocalProcessExecutor } from "./local_process.ts";
import { randomBackendName } from "../../shared/names.ts";
import { waitFor } from "../../testing/wait_for.ts";

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
  const childLine = await waitFor(
    () => executor.logs(backendId).find((l) => l.text.startsWith("child ")),
    { message: "the grandchild's pid in the logs" },
  );
  const childPid = Number(childLine.text.slice(6));
  assert.ok(childPid > 0);
  const exited = new Promise<number | null>((resolve) =>
    executor.onExit((e) => e.backendId === backendId && resolve(e.exitCode))
  );
  assert.equal(await executor.terminate(backendId, { hard: false }), true);
  assert.equal(await exited, 137, "SIGTERM was ignored, so SIGKILL ended it");
  // The grandchild is gone too (kill -0 fails once it is reaped or never existed).
  await waitFor(async () => {
    try {
      Deno.kill(childPid, "SIGCONT");
    } catch {
      return true;
    }
    const stat = await Deno.readTextFile(`/proc/${childPid}/stat`).catch(() => "");
    return stat === "" || /\) Z /.test(stat);
  }, { timeoutMs: 5_000, message: "the grandchild process killed with its group" });
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

const KEY = {
  key: { name: "k", namespace: "", tag: "" },
  deadlines: { "renew_at": 0, "soft_terminate_at": 0, "hard_terminate_at": 0 },
  token: 1,
};

function isRunning(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}

Deno.test("LocalProcessExecutor.sweep() kills the process group a previous run recorded in its pid file (issue 11, finding 2)", async () => {
  const stateDir = await Deno.makeTempDir();
  const images = { sleeper: { command: ["bash", "-c", "sleep 300 & echo child $!; wait"] } };
  const previous = new LocalProcessExecutor({ images, stateDir });
  const backendId = randomBackendName();
  try {
    await previous.spawn({
      backendId,
      executable: { image: "sleeper" },
      key: KEY,
      staticToken: null,
    });
    const pidFile = JSON.parse(await Deno.readTextFile(`${stateDir}/${backendId}.pid`));
    assert.equal(pidFile.pgid, pidFile.pid);
    assert.ok(pidFile.startTime > 0, "the start time is recorded");
    let child = 0;
    await waitFor(() => {
      const line = previous.logs(backendId).find((l) => l.text.startsWith("child "));
      child = line ? Number(line.text.slice(6)) : 0;
      return child > 0;
    }, { message: "the grandchild's pid", timeoutMs: 5_000 });

    // A new run on the same state directory (the old one "crashed": it is not closed).
    const next = new LocalProcessExecutor({ images, stateDir });
    const result = await next.sweep();
    assert.deepEqual(result, { killed: [backendId], gone: [], failed: [] });
    await waitFor(() => !isRunning(pidFile.pid) && !isRunning(child), {
      message: "the group to die",
      timeoutMs: 5_000,
    });
    assert.equal(await Deno.stat(`${stateDir}/${backendId}.pid`).catch(() => null), null);
    assert.deepEqual(await next.sweep(), { killed: [], gone: [], failed: [] });
  } finally {
    await previous.close();
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("LocalProcessExecutor.sweep() never signals a recycled pid and keeps a pid file it cannot verify", async () => {
  const stateDir = await Deno.makeTempDir();
  const stranger = new Deno.Command("sleep", { args: ["300"], detached: true, stdout: "null" })
    .spawn();
  try {
    const recycled = randomBackendName();
    const legacy = randomBackendName();
    const garbage = randomBackendName();
    // Same pid, another start time: the pid was recycled after the backend ended.
    await Deno.writeTextFile(
      `${stateDir}/${recycled}.pid`,
      JSON.stringify({ pid: stranger.pid, pgid: stranger.pid, startTime: 1 }),
    );
    // A bare pid (no start time): the process cannot be told from a stranger.
    await Deno.writeTextFile(`${stateDir}/${legacy}.pid`, String(stranger.pid));
    await Deno.writeTextFile(`${stateDir}/${garbage}.pid`, "not a pid");
    const executor = new LocalProcessExecutor({ images: {}, stateDir });
    const result = await executor.sweep();
    assert.deepEqual(result.killed, []);
    assert.deepEqual(result.gone, [recycled]);
    assert.deepEqual(result.failed.map((f) => f.backendId).sort(), [legacy, garbage].sort());
    assert.match(result.failed.find((f) => f.backendId === legacy)!.error, /no start time/);
    assert.ok(isRunning(stranger.pid), "the stranger was not signalled");
    assert.equal(await Deno.stat(`${stateDir}/${recycled}.pid`).catch(() => null), null);
    assert.ok(await Deno.stat(`${stateDir}/${legacy}.pid`), "an unverifiable pid file is kept");
    assert.ok(await Deno.stat(`${stateDir}/${garbage}.pid`), "an unreadable pid file is kept");
    // terminate() of an unknown backend goes the same way: a failure throws, never "gone".
    await assert.rejects(executor.terminate(garbage, { hard: true }), /Cannot read pid file/);
    assert.equal(await executor.terminate(legacy, { hard: true }), false);
    assert.ok(isRunning(stranger.pid));
  } finally {
    stranger.kill("SIGKILL");
    await stranger.status;
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("LocalProcessExecutor releases an ended backend's tail after the retention count (issue 11, finding 5)", async () => {
  const executor = new LocalProcessExecutor({
    images: { once: { command: ["sh", "-c", "echo bye"] } },
    maxEndedTails: 1,
  });
  const exits = new Set<string>();
  executor.onExit((e) => exits.add(e.backendId));
  try {
    const first = randomBackendName();
    const second = randomBackendName();
    for (const backendId of [first, second]) {
      await executor.spawn({
        backendId,
        executable: { image: "once" },
        key: KEY,
        staticToken: null,
      });
      await waitFor(() => exits.has(backendId), {
        message: `${backendId} to exit`,
        timeoutMs: 5_000,
      });
      assert.deepEqual(executor.logs(backendId).map((l) => l.text), ["bye"], "readable after exit");
    }
    assert.deepEqual(executor.logs(first), [], "the older ended tail was released");
    assert.deepEqual(executor.logs(second).map((l) => l.text), ["bye"]);
  } finally {
    await executor.close();
  }
});

Deno.test("LocalProcessExecutor never gives a port to two live backends, and releases it at exit", async () => {
  // The kernel may hand the same just-closed port to two spawns in a row (measured: 82 of
  // 20,000 binds collided, 64 at a time): the second backend would exit with EADDRINUSE after
  // the first answered its readiness probe. Here the chooser does so on purpose.
  const free = () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = listener.addr as Deno.NetAddr;
    listener.close();
    return port;
  };
  const first = free();
  const chosen = [first, first];
  const executor = new LocalProcessExecutor({
    images: {
      echo: { command: [Deno.execPath(), "run", "--allow-net", "--allow-env", echoBackend] },
    },
  }, { choosePort: () => chosen.shift() ?? free() });
  const key = {
    key: { name: "k", namespace: "", tag: "" },
    deadlines: { "renew_at": 0, "soft_terminate_at": 0, "hard_terminate_at": 0 },
    token: 1,
  };
  const spawn = () =>
    executor.spawn({
      backendId: randomBackendName(),
      executable: { image: "echo" },
      key,
      staticToken: null,
    });
  try {
    const a = await spawn();
    const b = await spawn();
    assert.equal(a.address, `127.0.0.1:${first}`);
    assert.notEqual(b.address, a.address);
    assert.equal(executor.heldPorts, 2);
  } finally {
    await executor.close();
  }
  await waitFor(() => executor.heldPorts === 0, { message: "ports released at exit" });
});
