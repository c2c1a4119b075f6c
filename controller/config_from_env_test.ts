import assert from "node:assert/strict";
import { configFromEnv, describeConfigError } from "./config_from_env.ts";
import { ControllerConfig } from "./config.ts";

function reader(vars: Record<string, string>) {
  return (name: string) => vars[name];
}

Deno.test("configFromEnv() reads every controller variable and skips unset or empty ones", () => {
  assert.deepEqual(
    configFromEnv(reader({
      DATABASE_URL: "postgres://db/plane",
      PLANE_PORT: "9000",
      PLANE_DEFAULT_CLUSTER: "localhost:9090",
      PLANE_CONTROLLER_URL: "https://plane.example.com",
      PLANE_API_KEYS: " a, ,b ",
      PLANE_CLUSTER_SECRET: "s",
      PLANE_ALLOW_INSECURE: "true",
      PLANE_CLEANUP_MIN_AGE_DAYS: "30",
      PLANE_LOG_LEVEL: "WARN",
      PLANE_FORWARD_AUTH: "",
      PLANE_ALLOW_BACKEND_ENV: "PYTHONPATH, NODE_OPTIONS",
    })),
    {
      db: "postgres://db/plane",
      port: 9000,
      defaultCluster: "localhost:9090",
      controllerUrl: "https://plane.example.com",
      apiKeys: ["a", "b"],
      clusterSecret: "s",
      allowInsecure: true,
      cleanupMinAgeDays: 30,
      logLevel: "warn",
      allowBackendEnv: ["PYTHONPATH", "NODE_OPTIONS"],
    },
  );
  assert.deepEqual(configFromEnv(reader({})), {});
});

Deno.test("describeConfigError() names the variable and keeps the schema's message", () => {
  const parsed = ControllerConfig.safeParse(
    configFromEnv(reader({ DATABASE_URL: "postgres://db", PLANE_BEST_OF: "many" })),
  );
  assert.ok(!parsed.success);
  assert.match(describeConfigError(parsed.error), /^Invalid PLANE_BEST_OF: .*expected number/);
  const insecure = ControllerConfig.safeParse(
    configFromEnv(reader({ DATABASE_URL: "x", PLANE_ALLOW_INSECURE: "perhaps" })),
  );
  assert.ok(!insecure.success);
  assert.match(describeConfigError(insecure.error), /^Invalid PLANE_ALLOW_INSECURE: /);
});
