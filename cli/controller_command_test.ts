import assert from "node:assert/strict";
import { parseControllerFlags, startController } from "./controller_command.ts";
import { UsageError } from "./usage_error.ts";
import { createTestDatabase } from "../controller/db/test_database.ts";
import { ControllerConfig } from "../controller/config.ts";
import { createLogger } from "../shared/log.ts";

function env(vars: Record<string, string>) {
  return (name: string) => vars[name];
}

function usageMessage(args: string[], vars: Record<string, string> = {}): string {
  try {
    parseControllerFlags(args, env(vars));
  } catch (err) {
    assert.ok(err instanceof UsageError, String(err));
    return err.message;
  }
  assert.fail(`no error for ${args.join(" ")}`);
}

Deno.test("parseControllerFlags() maps Plane's flags onto ControllerConfig with defaults", () => {
  const result = parseControllerFlags([
    "--db",
    "postgres://db/plane",
    "--port",
    "9000",
    "--default-cluster",
    "localhost:9090",
    "--cleanup-min-age-days",
    "7",
    "--best-of",
    "3",
    "--api-key",
    "a".repeat(16),
    "--api-key",
    "b".repeat(16),
    "--log-level",
    "debug",
  ], env({}));
  assert.equal(result.kind, "run");
  if (result.kind !== "run") return;
  assert.equal(result.config.db, "postgres://db/plane");
  assert.equal(result.config.host, "127.0.0.1");
  assert.equal(result.config.port, 9000);
  assert.equal(result.config.defaultCluster, "localhost:9090");
  assert.equal(result.config.cleanupMinAgeDays, 7);
  assert.equal(result.config.bestOf, 3);
  assert.deepEqual(result.config.apiKeys, ["a".repeat(16), "b".repeat(16)]);
  assert.equal(result.config.logLevel, "debug");
});

Deno.test("parseControllerFlags() reads the environment and lets flags win", () => {
  const vars = {
    DATABASE_URL: "postgres://env/plane",
    PLANE_API_KEYS: `${"e".repeat(16)}, ${"f".repeat(16)}`,
    PLANE_CLUSTER_SECRET: "s".repeat(16),
    PLANE_PORT: "7000",
  };
  const fromEnv = parseControllerFlags([], env(vars));
  assert.ok(fromEnv.kind === "run");
  assert.equal(fromEnv.config.db, "postgres://env/plane");
  assert.deepEqual(fromEnv.config.apiKeys, ["e".repeat(16), "f".repeat(16)]);
  assert.equal(fromEnv.config.clusterSecret, "s".repeat(16));
  assert.equal(fromEnv.config.port, 7000);
  const flags = parseControllerFlags(["--db", "dir", "--api-key", "g".repeat(16)], env(vars));
  assert.ok(flags.kind === "run");
  assert.equal(flags.config.db, "dir");
  assert.deepEqual(flags.config.apiKeys, ["g".repeat(16)]);
});

Deno.test("parseControllerFlags() answers bad values with the schema's message and the flag", () => {
  assert.equal(
    usageMessage(["--db", "x", "--port", "70000"]),
    "Invalid --port: Too big: expected number to be <=65535",
  );
  assert.match(usageMessage(["--db", "x", "--best-of", "two"]), /^Invalid --best-of: /);
  assert.equal(
    usageMessage(["--db", "x", "--api-key", "short"]),
    "Invalid --api-key: API keys must be at least 16 characters",
  );
  assert.match(usageMessage([]), /^Invalid --db: A database is required/);
  assert.match(usageMessage(["--db", "x", "--default-cluster", "bad host!"]), /--default-cluster/);
  assert.equal(
    usageMessage(["--nope"]),
    'Unknown flag --nope for "plane controller": see "plane controller --help"',
  );
  assert.match(usageMessage(["--db"]), /Flag --db of "plane controller" needs a value/);
  assert.match(usageMessage(["stray"]), /Unexpected argument "stray"/);
});

Deno.test("parseControllerFlags() refuses an open controller on a non-loopback host", () => {
  assert.match(
    usageMessage(["--db", "x", "--host", "0.0.0.0"]),
    /^Refusing to bind 0\.0\.0\.0 without authentication/,
  );
  for (
    const extra of [
      ["--allow-insecure"],
      ["--api-key", "k".repeat(16)],
      ["--api-key", "k".repeat(16), "--cluster-secret", "c".repeat(16)],
      ["--forward-auth", "http://auth.internal/check"],
      ["--cluster-secret", "c".repeat(16), "--allow-insecure"],
    ]
  ) {
    const result = parseControllerFlags(["--db", "x", "--host", "0.0.0.0", ...extra], env({}));
    assert.equal(result.kind, "run", extra.join(" "));
  }
  // A cluster secret guards only drone and proxy sockets: the control API would be open.
  assert.match(
    usageMessage(["--db", "x", "--host", "0.0.0.0", "--cluster-secret", "c".repeat(16)]),
    /^Refusing to bind 0\.0\.0\.0 with an unauthenticated control API: --cluster-secret guards only/,
  );
  assert.equal(parseControllerFlags(["--db", "x", "--host", "::1"], env({})).kind, "run");
  assert.equal(parseControllerFlags(["--help"], env({})).kind, "help");
});

Deno.test("startController() serves on the bound port and closes cleanly", async () => {
  await using database = await createTestDatabase();
  const lines: string[] = [];
  const running = await startController(
    ControllerConfig.parse({ db: database.url, port: 0 }),
    { log: createLogger("controller", { write: (line) => lines.push(line) }) },
  );
  try {
    assert.match(running.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${running.url}/ctrl/status`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.ok(
      lines.some((l) => JSON.parse(l).level === "warn" && /unauthenticated/.test(l)),
      "an open controller warns at start-up",
    );
  } finally {
    await running.close();
  }
  const { rows } = await database.db.query<{ n: number }>(
    "select count(*)::int as n from controller where is_online",
  );
  assert.equal(rows[0]!.n, 0);
});

Deno.test("parseControllerFlags() reads the Jamsocket service map from --services FILE and the limit", () => {
  const files: Record<string, string> = {
    "services.json": JSON.stringify({ "acme/editor": { image: "echo" } }),
    "bad.json": "{",
  };
  const readFile = (path: string) => {
    const text = files[path];
    if (text === undefined) throw new Error("No such file");
    return text;
  };
  const result = parseControllerFlags(
    ["--db", "x", "--services", "services.json", "--max-backends", "5"],
    env({}),
    readFile,
  );
  assert.equal(result.kind, "run");
  if (result.kind !== "run") return;
  assert.equal(result.config.services["acme/editor"]?.image, "echo");
  assert.equal(result.config.services["acme/editor"]?.max_idle_seconds, 300);
  assert.equal(result.config.maxBackends, 5);
  for (
    const [file, message] of [["missing.json", /Cannot read --services/], [
      "bad.json",
      /Invalid --services/,
    ]] as const
  ) {
    assert.throws(
      () => parseControllerFlags(["--db", "x", "--services", file], env({}), readFile),
      (err) => err instanceof UsageError && message.test(err.message),
    );
  }
  const fromEnv = parseControllerFlags(
    ["--db", "x"],
    env({
      PLANE_SERVICES: JSON.stringify({ "a/b": { image: "i" } }),
      PLANE_MAX_BACKENDS: "3",
    }),
  );
  assert.equal(fromEnv.kind === "run" && fromEnv.config.services["a/b"]?.image, "i");
  assert.equal(fromEnv.kind === "run" && fromEnv.config.maxBackends, 3);
  assert.match(usageMessage(["--db", "x"], { PLANE_SERVICES: "not json" }), /--services/);
});

Deno.test("parseControllerFlags() opts injection env names in with --allow-backend-env or PLANE_ALLOW_BACKEND_ENV, never reserved ones", () => {
  const flags = parseControllerFlags(
    ["--db", "x", "--allow-backend-env", "PYTHONPATH", "--allow-backend-env", "NODE_OPTIONS"],
    env({ PLANE_ALLOW_BACKEND_ENV: "LD_PRELOAD" }),
  );
  assert.ok(flags.kind === "run");
  assert.deepEqual(flags.config.allowBackendEnv, ["PYTHONPATH", "NODE_OPTIONS"]);
  const fromEnv = parseControllerFlags(
    ["--db", "x"],
    env({ PLANE_ALLOW_BACKEND_ENV: "PYTHONPATH, LD_PRELOAD" }),
  );
  assert.ok(fromEnv.kind === "run");
  assert.deepEqual(fromEnv.config.allowBackendEnv, ["PYTHONPATH", "LD_PRELOAD"]);
  const none = parseControllerFlags(["--db", "x"], env({}));
  assert.ok(none.kind === "run");
  assert.deepEqual(none.config.allowBackendEnv, []);
  assert.match(
    usageMessage(["--db", "x", "--allow-backend-env", "SESSION_BACKEND_STATIC_TOKEN"]),
    /^Invalid --allow-backend-env: "SESSION_BACKEND_STATIC_TOKEN" is reserved/,
  );
  assert.match(
    usageMessage(["--db", "x", "--allow-backend-env", "PLANE_X"]),
    /cannot be opted in/,
  );
  assert.match(
    usageMessage(["--db", "x", "--allow-backend-env", "USER_VAR"]),
    /"USER_VAR" is not a refused name/,
  );
});

Deno.test("parseControllerFlags() derives every key timing from --key-lease-ms or PLANE_KEY_LEASE_MS and refuses leases under 15 s", () => {
  const base = ["--db", "postgres://db/plane"];
  const fromFlag = parseControllerFlags([...base, "--key-lease-ms", "30000"], env({}));
  assert.equal(fromFlag.kind, "run");
  if (fromFlag.kind !== "run") return;
  assert.equal(fromFlag.config.keyLeaseMs, 30_000);
  assert.equal(fromFlag.config.keyRenewAfterMs, 15_000);
  assert.equal(fromFlag.config.keySoftTerminateAfterMs, 20_000);
  assert.equal(fromFlag.config.keyHardTerminateAfterMs, 25_000);
  const fromEnv = parseControllerFlags(base, env({ PLANE_KEY_LEASE_MS: "120000" }));
  assert.ok(fromEnv.kind === "run" && fromEnv.config.keyHardTerminateAfterMs === 100_000);
  // The flag wins over the variable, and its derived offsets with it.
  const both = parseControllerFlags(
    [...base, "--key-lease-ms", "30000"],
    env({ PLANE_KEY_LEASE_MS: "120000" }),
  );
  assert.ok(both.kind === "run" && both.config.keyRenewAfterMs === 15_000);
  assert.match(
    usageMessage([...base, "--key-lease-ms", "14999"]),
    /^Invalid --key-lease-ms \(PLANE_KEY_LEASE_MS\): must be at least 15000/,
  );
  assert.match(usageMessage([...base, "--key-lease-ms", "soon"]), /^Invalid --key-lease-ms/);
});
