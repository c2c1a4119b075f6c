import assert from "node:assert/strict";
import { parseDroneFlags } from "./drone_command.ts";
import { UsageError } from "./usage_error.ts";

const env = (values: Record<string, string>) => (name: string) => values[name];
const images = JSON.stringify({ echo: { command: ["deno", "run", "app.ts"] } });
const base = ["--controller-url", "http://127.0.0.1:8080", "--cluster", "localhost:9090"];

Deno.test("parseDroneFlags() builds a config from flags over the environment", () => {
  const result = parseDroneFlags(
    [...base, "--images", "images.json", "--pool", "gpu", "--ip", "10.0.0.1"],
    env({ PLANE_CLUSTER_SECRET: "s".repeat(20), PLANE_POOL: "ignored" }),
    () => images,
  );
  assert.equal(result.kind, "run");
  if (result.kind !== "run") return;
  assert.equal(result.config.pool, "gpu");
  assert.equal(result.config.secret, "s".repeat(20));
  assert.equal(result.config.ip, "10.0.0.1");
  assert.deepEqual(result.config.images.echo?.command, ["deno", "run", "app.ts"]);
  assert.equal(result.config.runtime, "local");
});

Deno.test("parseDroneFlags() answers each mistake with one precise line", () => {
  const cases: [string[], RegExp][] = [
    // Issue 12: a missing required flag is named with its variable, not zod's wording.
    [["--cluster", "c"], /^--controller-url is required \(or PLANE_CONTROLLER_URL\)$/],
    [["--controller-url", "http://c:1"], /^--cluster is required \(or PLANE_CLUSTER\)$/],
    [[...base, "--cluster", "bad cluster"], /Invalid cluster name "bad cluster"/],
    [[...base, "--bogus"], /Unknown flag --bogus for "plane drone"/],
    [[...base], /local runtime needs images/],
    [[...base, "--images", "x.json"], /Invalid --images: not JSON/],
    [[...base, "--runtime", "vm"], /^Invalid --runtime: /],
    [[...base, "--runtime", "docker", "--log-config", "{"], /Invalid --log-config: not JSON/],
    [[...base, "--name", "Drone1", "--runtime", "docker"], /Invalid drone name "Drone1"/],
  ];
  for (const [args, message] of cases) {
    assert.throws(
      () => parseDroneFlags(args, env({}), () => "{not json"),
      (err) => err instanceof UsageError && message.test(err.message),
      args.join(" "),
    );
  }
  assert.deepEqual(parseDroneFlags(["--help"], env({})), { kind: "help" });
});

Deno.test("parseDroneFlags() reads --allow-network-modes and images' allowEnv", () => {
  const withModes = parseDroneFlags(
    [...base, "--runtime", "docker", "--allow-network-modes", "host, none"],
    env({}),
  );
  assert.ok(withModes.kind === "run");
  assert.deepEqual(withModes.config.allowNetworkModes, ["host", "none"]);
  const without = parseDroneFlags([...base, "--runtime", "docker"], env({}));
  assert.ok(without.kind === "run");
  assert.deepEqual(without.config.allowNetworkModes, []);
  assert.throws(
    () =>
      parseDroneFlags(
        [...base, "--runtime", "docker", "--allow-network-modes", "container"],
        env({}),
      ),
    (err) => err instanceof UsageError && /^Invalid --allow-network-modes: /.test(err.message),
  );

  const allowing = JSON.stringify({ py: { command: ["python3"], allowEnv: ["PYTHONPATH"] } });
  const local = parseDroneFlags([...base, "--images", "i.json"], env({}), () => allowing);
  assert.ok(local.kind === "run");
  assert.deepEqual(local.config.images.py?.allowEnv, ["PYTHONPATH"]);
  const reserved = JSON.stringify({ py: { command: ["python3"], allowEnv: ["PLANE_X"] } });
  assert.throws(
    () => parseDroneFlags([...base, "--images", "i.json"], env({}), () => reserved),
    (err) => err instanceof UsageError && /Invalid --images: .*reserved/.test(err.message),
  );
});
