/**
 * The Docker runtime against a real Docker engine with a locally built image (no registry),
 * host networking. Runs only when Docker answers; otherwise every test is reported as ignored
 * and the reason printed, and CI (which installs Docker) fails if Docker is unreachable there.
 */
import { connectDocker } from "./docker_connect.ts";
import assert from "node:assert/strict";
import { runExecutorConformance } from "./conformance.ts";
import { DockerExecutor } from "./docker.ts";
import { buildBrokenImage, buildEchoImage, dockerTestsRun } from "./testdata/docker_image.ts";
import { createLogger } from "../../shared/log.ts";
import { randomBackendName } from "../../shared/names.ts";
import { waitFor } from "../../testing/wait_for.ts";

const available = await dockerTestsRun("Docker runtime tests");
const image = available ? await buildEchoImage() : "";
const log = createLogger("docker", { level: "error" });
const MISSING = "127.0.0.1:9/plane-missing:latest";

async function makeExecutor() {
  const docker = connectDocker();
  const executor = new DockerExecutor({ docker, log, hostNetwork: true, stopTimeoutSeconds: 5 });
  await executor.start();
  return executor;
}

runExecutorConformance("DockerExecutor", async () => {
  const executor = await makeExecutor();
  return {
    executor,
    image,
    // Tests talk only to loopback: a pull from a closed loopback port fails fast.
    missing: { image: MISSING },
    [Symbol.asyncDispose]: () => executor.close(),
  };
}, { ignore: !available });

Deno.test({
  name: "DockerExecutor labels its containers and pull policy Never skips loading a missing image",
  ignore: !available,
  async fn() {
    const executor = await makeExecutor();
    try {
      await executor.prepare({ image: MISSING, "pull_policy": "Never" });
      await assert.rejects(executor.prepare({ image: MISSING }));
      await executor.prepare({ image, "pull_policy": "IfNotPresent" });
      const backendId = randomBackendName();
      const { address } = await executor.spawn({
        backendId,
        executable: { image },
        key: {
          key: { name: "k", namespace: "", tag: "" },
          deadlines: { "renew_at": 0, "soft_terminate_at": 0, "hard_terminate_at": 0 },
          token: 1,
        },
        staticToken: null,
      });
      const info = await connectDocker().getContainer(`plane-${backendId}`)
        .inspect() as unknown as {
          Config: { Labels: Record<string, string> };
        };
      assert.equal(info.Config.Labels["dev.plane.backend"], "true");
      assert.equal(await executor.waitForReady(backendId, address), "ready");
      const exited = new Promise((r) => executor.onExit((e) => e.backendId === backendId && r(e)));
      await executor.terminate(backendId, { hard: true });
      await exited;
      // Docker's `until` filter has one-second granularity: prune until the container is gone.
      await waitFor(async () => {
        await executor.prune();
        return await connectDocker().getContainer(`plane-${backendId}`).inspect().then(
          () => false,
          () => true,
        );
      }, { intervalMs: 200, message: "the stopped container to be pruned" });
    } finally {
      await executor.close();
    }
  },
});

Deno.test({
  name:
    "DockerExecutor refuses network_name host without --allow-network-modes, and a network that does not exist (issue 10, finding 8)",
  ignore: !available,
  async fn() {
    const docker = connectDocker();
    // Published ports, as a production drone runs: network_name reaches NetworkMode here.
    const executor = new DockerExecutor({ docker, log, stopTimeoutSeconds: 5 });
    await executor.start();
    const key = {
      key: { name: "k", namespace: "", tag: "" },
      deadlines: { "renew_at": 0, "soft_terminate_at": 0, "hard_terminate_at": 0 },
      token: 1,
    };
    const cases: [string, RegExp][] = [
      ["host", /network mode "host" is not enabled on this drone.*--allow-network-modes host/],
      ["none", /--allow-network-modes none/],
      ["plane-no-such-network", /no such Docker network.*docker network create/],
    ];
    try {
      for (const [name, message] of cases) {
        const backendId = randomBackendName();
        try {
          await assert.rejects(
            executor.spawn({
              backendId,
              executable: { image, "network_name": name },
              key,
              staticToken: null,
            }),
            message,
          );
          // Refused before create: no container was made.
          await assert.rejects(docker.getContainer(`plane-${backendId}`).inspect());
        } finally {
          await docker.getContainer(`plane-${backendId}`).remove({ force: true }).catch(() => {});
        }
      }
    } finally {
      await executor.close();
    }
  },
});

const KEY = {
  key: { name: "k", namespace: "", tag: "" },
  deadlines: { "renew_at": 0, "soft_terminate_at": 0, "hard_terminate_at": 0 },
  token: 1,
};

/** Names of the containers (running or not) carrying `label`. */
async function containersLabelled(label: string): Promise<string[]> {
  const list = await connectDocker().listContainers({ all: true, filters: { label: [label] } });
  return list.map((c) => (c.Names?.[0] ?? "").replace(/^\//, ""));
}

Deno.test({
  name:
    "DockerExecutor removes the container of a spawn that fails after create, and logs why with the backend id (issue 11, finding 4)",
  ignore: !available,
  async fn() {
    const broken = await buildBrokenImage();
    const droneName = `dr-i11${crypto.randomUUID().slice(0, 8)}`;
    const lines: Record<string, unknown>[] = [];
    const recording = createLogger("docker", {
      level: "warn",
      write: (line: string) => lines.push(JSON.parse(line)),
    });
    const executor = new DockerExecutor({
      docker: connectDocker(),
      log: recording,
      hostNetwork: true,
      droneName,
    });
    await executor.start();
    const backendId = randomBackendName();
    try {
      await assert.rejects(
        executor.spawn({ backendId, executable: { image: broken }, key: KEY, staticToken: null }),
      );
      assert.deepEqual(await containersLabelled(`dev.plane.drone=${droneName}`), []);
      await assert.rejects(connectDocker().getContainer(`plane-${backendId}`).inspect());
      const logged = lines.find((l) => l.backend === backendId);
      assert.ok(logged, `a log line names the backend: ${JSON.stringify(lines)}`);
      assert.match(String(logged.message), /removed it/);
    } finally {
      await connectDocker().getContainer(`plane-${backendId}`).remove({ force: true })
        .catch(() => {});
      await executor.close();
    }
  },
});

Deno.test({
  name:
    "DockerExecutor.sweep() removes the containers a previous run of the same drone left, and no other drone's (issue 11, finding 4)",
  ignore: !available,
  async fn() {
    const docker = connectDocker();
    const droneName = `dr-i11${crypto.randomUUID().slice(0, 8)}`;
    const otherName = `dr-i11${crypto.randomUUID().slice(0, 8)}`;
    const make = async (name: string) => {
      const executor = new DockerExecutor({ docker, log, hostNetwork: true, droneName: name });
      await executor.start();
      return executor;
    };
    const previous = await make(droneName);
    const other = await make(otherName);
    const mine = randomBackendName();
    const theirs = randomBackendName();
    try {
      await previous.spawn({ backendId: mine, executable: { image }, key: KEY, staticToken: null });
      await other.spawn({ backendId: theirs, executable: { image }, key: KEY, staticToken: null });
      assert.deepEqual(await containersLabelled(`dev.plane.drone=${droneName}`), [`plane-${mine}`]);

      const next = await make(droneName);
      try {
        assert.deepEqual(await next.sweep(), { killed: [mine], gone: [], failed: [] });
        assert.deepEqual(await containersLabelled(`dev.plane.drone=${droneName}`), []);
        assert.deepEqual(
          await containersLabelled(`dev.plane.drone=${otherName}`),
          [`plane-${theirs}`],
          "another drone's container is left alone",
        );
      } finally {
        await next.close();
      }
    } finally {
      for (const id of [mine, theirs]) {
        await docker.getContainer(`plane-${id}`).remove({ force: true }).catch(() => {});
      }
      await previous.close();
      await other.close();
    }
  },
});
