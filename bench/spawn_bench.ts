/**
 * `deno task bench` (second part): spawn overhead, targets.md §3 ("Spawn overhead").
 *
 * Docker: connect → `ready` on the status stream, through a real controller and drone on the
 * Docker runtime (host network), against `docker create` + `start` of the same image plus the
 * same readiness probe. Local processes: connect → `ready` against starting the same command
 * directly plus the probe; the target is at most 50 ms on top of the process start.
 * Rounds alternate between the measured path and its reference. Bounded: ~20 iterations each.
 */
import { startTestController } from "../controller/testing/test_controller.ts";
import {
  collectStatuses,
  ECHO_BACKEND,
  echoExecutor,
  startTestDrone,
  waitForSchedulable,
} from "../tests/env.ts";
import { startDrone } from "../cli/drone_command.ts";
import { DroneConfig } from "../drone/config.ts";
import { connectDocker } from "../drone/executor/docker_connect.ts";
import { buildEchoImage } from "../drone/executor/testdata/docker_image.ts";
import { waitForHttp } from "../drone/executor/readiness.ts";
import { createLogger } from "../shared/log.ts";
import { freePort } from "../testing/free_port.ts";

const ITERATIONS = 10;
const CLUSTER = "localhost:9090";

function print(line = ""): void {
  // deno-lint-ignore no-console
  console.log(line);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function connectToReady(url: string, executable: Record<string, unknown>): Promise<number> {
  const t0 = performance.now();
  const response = await fetch(`${url}/ctrl/connect`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ "spawn_config": { executable } }),
  });
  const { backend_id: id } = await response.json();
  await collectStatuses(url, id, "ready");
  const elapsed = performance.now() - t0;
  await (await fetch(`${url}/ctrl/b/${id}/hard-terminate`, { method: "POST" })).body?.cancel();
  await collectStatuses(url, id, "terminated");
  return elapsed;
}

async function dockerRunToReady(image: string): Promise<number> {
  const docker = connectDocker();
  const port = freePort();
  const t0 = performance.now();
  const container = await docker.createContainer({
    Image: image,
    Env: [`PORT=${port}`],
    HostConfig: { NetworkMode: "host" },
  });
  await container.start();
  await waitForHttp(`127.0.0.1:${port}`);
  const elapsed = performance.now() - t0;
  await container.kill().catch(() => {});
  await (container as unknown as { remove(o: unknown): Promise<unknown> }).remove({ force: true });
  return elapsed;
}

async function processToReady(): Promise<number> {
  const port = freePort();
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", ECHO_BACKEND],
    env: { PORT: String(port) },
    stdout: "null",
    stderr: "null",
  }).spawn();
  await waitForHttp(`127.0.0.1:${port}`);
  const elapsed = performance.now() - t0;
  child.kill("SIGKILL");
  await child.status;
  return elapsed;
}

function row(name: string, measured: number[], reference: number[], verdict: string) {
  const m = median(measured);
  const r = median(reference);
  print(
    `${name.padEnd(34)} | ${m.toFixed(1).padStart(8)} ms | ${r.toFixed(1).padStart(8)} ms | ` +
      `${(m / r).toFixed(2)}x | +${(m - r).toFixed(1)} ms | ${verdict}`,
  );
}

print("Spawn overhead — medians of alternating rounds; each backend is terminated between rounds");
print(`${"Path".padEnd(34)} | Measured    | Reference   | Ratio | Added    | Target`);

// Local processes.
{
  await using t = await startTestController({ defaultCluster: CLUSTER });
  await using d = await startTestDrone({
    controllerUrl: t.url,
    cluster: CLUSTER,
    executor: echoExecutor(),
  });
  await waitForSchedulable(t.db, d.drone.name);
  const measured: number[] = [];
  const reference: number[] = [];
  await connectToReady(t.url, { image: "echo" }); // warm-up
  await processToReady();
  for (let i = 0; i < ITERATIONS; i++) {
    measured.push(await connectToReady(t.url, { image: "echo" }));
    reference.push(await processToReady());
  }
  const added = median(measured) - median(reference);
  row(
    "local process: connect → ready",
    measured,
    reference,
    `<= +50 ms: ${added <= 50 ? "PASS" : "MISS"}`,
  );
}

// Docker.
const dockerUp = await connectDocker().ping().then(() => true, () => false);
if (!dockerUp) {
  print("docker: NOT RUN (no Docker engine answers on this machine)");
} else {
  const image = await buildEchoImage();
  await using t = await startTestController({ defaultCluster: CLUSTER });
  const dir = await Deno.makeTempDir();
  const running = await startDrone(
    DroneConfig.parse({
      controllerUrl: t.url,
      cluster: CLUSTER,
      runtime: "docker",
      hostNetwork: true,
      db: `${dir}/state.db`,
      heartbeatMs: 200,
    }),
    { log: createLogger("drone", { level: "error" }) },
  );
  try {
    await waitForSchedulable(t.db, running.drone.name);
    const executable = { image, "pull_policy": "Never" };
    const measured: number[] = [];
    const reference: number[] = [];
    await connectToReady(t.url, executable); // warm-up
    await dockerRunToReady(image);
    for (let i = 0; i < ITERATIONS; i++) {
      measured.push(await connectToReady(t.url, executable));
      reference.push(await dockerRunToReady(image));
    }
    const ratio = median(measured) / median(reference);
    row(
      "docker: connect → ready",
      measured,
      reference,
      `<= 1.1x: ${ratio <= 1.1 ? "PASS" : "MISS"}`,
    );
  } finally {
    await running.stop();
    await Deno.remove(dir, { recursive: true });
  }
}
