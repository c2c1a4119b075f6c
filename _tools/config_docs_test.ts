import assert from "node:assert/strict";
import {
  defaultCell,
  isRequired,
  markdownTable,
  markers,
  METRICS_MARKERS,
  parseMinimal,
  renderMetricsTable,
  renderTable,
  type Role,
  ROLES,
  schemaFields,
  section,
  sectionBody,
  updateMetricsSection,
  updateReadme,
} from "./config_docs.ts";
import { ALL_METRICS } from "./metrics_catalogue.ts";
import type { ControllerConfigInput } from "../controller/config.ts";
import type { DroneConfigInput } from "../drone/config.ts";
import type { ProxyConfigInput } from "../proxy/config.ts";
import type { DnsConfigInput } from "../dns/config.ts";
import { CONTROLLER_HELP, parseControllerFlags } from "../cli/controller_command.ts";
import { DRONE_HELP, parseDroneFlags } from "../cli/drone_command.ts";
import { parseProxyFlags, PROXY_HELP } from "../cli/proxy_command.ts";
import { DNS_HELP, parseDnsFlags } from "../cli/dns_command.ts";
import type { FlagsResult } from "../cli/config_flags.ts";

/**
 * Config fields deliberately without a flag. Adding a schema field means adding a flag row to
 * the role's `*_FLAGS` table in `cli/*_command.ts`, or listing the field here with a reason.
 */
const INTERNAL_FIELDS: {
  controller: readonly (keyof ControllerConfigInput)[];
  drone: readonly (keyof DroneConfigInput)[];
  proxy: readonly (keyof ProxyConfigInput)[];
  dns: readonly (keyof DnsConfigInput)[];
} = {
  controller: [
    // Random `co-…` per start (plane-0.5.md §11.1); set by tests and embedders that need a stable
    // name.
    "name",
    // Fixed limits (README: 100 backends per cleanup pass, 1 MiB bodies, 300 s waits); code
    // that builds a ControllerConfig itself may change them.
    "cleanupBatchSize",
    "maxBodyBytes",
    "maxWaitSeconds",
    // Timings of plane-0.5.md §5.2 and §7.6: Plane's values, shortened only by tests.
    "heartbeatIntervalMs",
    "actionResendIntervalMs",
    "sweepIntervalMs",
    "cleanupIntervalMs",
    "unhealthyMs",
    "nodeNameHoldMs",
    "keyRenewAfterMs",
    "keySoftTerminateAfterMs",
    "keyHardTerminateAfterMs",
    "tokenLifetimeMs",
    "routeWaitMs",
    "sseKeepAliveMs",
  ],
  drone: [
    // Timings: Plane's heartbeat and soft-terminate grace (the Docker stop timeout); `dev`
    // and code that builds a DroneConfig itself may shorten them.
    "heartbeatMs",
    "softGraceMs",
  ],
  proxy: [],
  dns: [],
};

const STALE = "README configuration tables are stale: run deno task docs:config";

type Env = Record<string, string>;

/** A value for a flag (or its variable) and what must land in the config field. */
interface Sample {
  /** The flag's value; absent for switches. */
  value?: string;
  /** Other flags the value needs (e.g. `--https` needs `--cert-path`). */
  with?: string[];
  /** The variable's value when it differs from `value`. */
  env?: string;
  /** The field's expected input, normalised through the field's schema before comparing. */
  expected: unknown;
  /** Expected from the variable when it differs from `expected`. */
  envExpected?: unknown;
}

interface RoleCase {
  /** Runs the role's parser; the config on success. */
  parse(args: string[], env: (name: string) => string | undefined): Record<string, unknown>;
  help: string;
  /** Required fields, supplied through the environment so each flag and variable can win. */
  env: Env;
  /** Flags every run needs besides the required fields. */
  args: string[];
  samples: Record<string, Sample>;
}

const SERVICES = { "acme/app": { image: "app" } };
const IMAGES = { echo: { command: ["deno", "run", "echo.ts"] } };
const FILES: Record<string, string> = {
  "services.json": JSON.stringify(SERVICES),
  "images.json": JSON.stringify(IMAGES),
};
function readFile(path: string): string {
  const text = FILES[path];
  if (text === undefined) throw new Error(`No such file: ${path}`);
  return text;
}

function run<T>(result: FlagsResult<T>): Record<string, unknown> {
  assert.equal(result.kind, "run");
  return (result as { config: Record<string, unknown> }).config;
}

const CASES: Record<Role, RoleCase> = {
  controller: {
    parse: (args, env) => run(parseControllerFlags(args, env, readFile)),
    help: CONTROLLER_HELP,
    env: { DATABASE_URL: "postgres://env/plane" },
    args: [],
    samples: {
      "--db": { value: ".plane/db", expected: ".plane/db" },
      "--host": { value: "localhost", expected: "localhost" },
      "--port": { value: "9000", expected: 9000 },
      "--controller-url": { value: "http://plane.test:8080", expected: "http://plane.test:8080" },
      "--default-cluster": { value: "plane.test", expected: "plane.test" },
      "--cleanup-min-age-days": { value: "7", expected: 7 },
      "--forward-auth": { value: "http://auth.test/check", expected: "http://auth.test/check" },
      "--best-of": { value: "3", expected: 3 },
      "--api-key": {
        value: "k".repeat(16),
        expected: ["k".repeat(16)],
        env: `${"a".repeat(16)},${"b".repeat(16)}`,
        envExpected: ["a".repeat(16), "b".repeat(16)],
      },
      "--cluster-secret": { value: "s".repeat(16), expected: "s".repeat(16) },
      "--allow-backend-env": {
        value: "PYTHONPATH",
        expected: ["PYTHONPATH"],
        env: "PYTHONPATH,NODE_OPTIONS",
        envExpected: ["PYTHONPATH", "NODE_OPTIONS"],
      },
      "--allow-insecure": { env: "true", expected: true },
      "--allow-path-routing": { env: "true", expected: true },
      "--metrics-public": { env: "true", expected: true },
      "--log-level": { value: "debug", expected: "debug" },
      "--services": {
        value: "services.json",
        env: JSON.stringify(SERVICES),
        expected: SERVICES,
      },
      "--max-backends": { value: "5", expected: 5 },
      "--key-lease-ms": { value: "20000", expected: 20000 },
    },
  },
  drone: {
    parse: (args, env) => run(parseDroneFlags(args, env, readFile)),
    help: DRONE_HELP,
    env: { PLANE_CONTROLLER_URL: "http://env.test:8080", PLANE_CLUSTER: "localhost:9090" },
    // The local runtime refuses to start without images.
    args: ["--runtime", "docker"],
    samples: {
      "--controller-url": { value: "http://plane.test:8080", expected: "http://plane.test:8080" },
      "--cluster": { value: "plane.test", expected: "plane.test" },
      "--name": { value: "dr-one", expected: "dr-one" },
      "--pool": { value: "gpu", expected: "gpu" },
      "--secret": { value: "s".repeat(20), expected: "s".repeat(20) },
      "--ip": { value: "10.0.0.1", expected: "10.0.0.1" },
      "--db": { value: "state/drone.db", expected: "state/drone.db" },
      "--runtime": { value: "local", with: ["--images", "images.json"], expected: "local" },
      "--images": { value: "images.json", expected: IMAGES },
      "--docker-runtime": { value: "runsc", expected: "runsc" },
      "--log-config": { value: '{"Type": "json-file"}', expected: { Type: "json-file" } },
      "--mount-base": { value: "/var/plane", expected: "/var/plane" },
      "--host-network": { expected: true },
      "--allow-network-modes": { value: "host,none", expected: ["host", "none"] },
      "--auto-prune-containers-older-than-seconds": { value: "60", expected: 60 },
      "--startup-timeout-seconds": { value: "20", expected: 20 },
      "--metrics-port": { value: "9100", expected: 9100 },
      "--metrics-hostname": { value: "0.0.0.0", expected: "0.0.0.0" },
      "--log-level": { value: "debug", expected: "debug" },
    },
  },
  proxy: {
    parse: (args, env) => run(parseProxyFlags(args, env)),
    help: PROXY_HELP,
    env: { PLANE_CONTROLLER_URL: "http://env.test:8080", PLANE_CLUSTER: "localhost:9090" },
    args: [],
    samples: {
      "--controller-url": { value: "http://plane.test:8080", expected: "http://plane.test:8080" },
      "--cluster": { value: "plane.test", expected: "plane.test" },
      "--name": { value: "px-edge", expected: "px-edge" },
      "--secret": { value: "s3cret", expected: "s3cret" },
      "--http-port": { value: "8000", expected: 8000 },
      "--https": { with: ["--cert-path", "cert.json"], expected: true },
      "--https-port": { value: "8443", with: ["--cert-path", "cert.json"], expected: 8443 },
      "--cert-path": { value: "cert.json", expected: "cert.json" },
      "--acme-endpoint": {
        value: "https://acme.test/dir",
        with: ["--acme-email", "ops@plane.test", "--cert-path", "cert.json"],
        expected: "https://acme.test/dir",
      },
      "--acme-email": {
        value: "ops@plane.test",
        with: ["--acme-endpoint", "https://acme.test/dir", "--cert-path", "cert.json"],
        expected: "ops@plane.test",
      },
      "--acme-eab-kid": {
        value: "kid-1",
        with: [
          "--acme-eab-hmac-key",
          "aGVsbG8",
          "--acme-endpoint",
          "https://acme.test/dir",
          "--acme-email",
          "ops@plane.test",
          "--cert-path",
          "cert.json",
        ],
        expected: "kid-1",
      },
      "--acme-eab-hmac-key": {
        value: "aGVsbG8",
        with: [
          "--acme-eab-kid",
          "kid-1",
          "--acme-endpoint",
          "https://acme.test/dir",
          "--acme-email",
          "ops@plane.test",
          "--cert-path",
          "cert.json",
        ],
        expected: "aGVsbG8",
      },
      "--acme-ca-file": {
        value: "ca.pem",
        with: [
          "--acme-endpoint",
          "https://acme.test/dir",
          "--acme-email",
          "ops@plane.test",
          "--cert-path",
          "cert.json",
        ],
        expected: "ca.pem",
      },
      "--root-redirect-url": { value: "https://plane.test/", expected: "https://plane.test/" },
      "--route-wait-seconds": { value: "2.5", expected: 2.5 },
      "--body-timeout-seconds": { value: "1.5", expected: 1.5 },
      "--hostname": { value: "127.0.0.1", expected: "127.0.0.1" },
      "--path-routing": { with: ["--hostname", "127.0.0.1"], expected: true },
      "--force-path-routing": { expected: true },
      "--log-level": { value: "debug", expected: "debug" },
      "--workers": { value: "3", expected: 3 },
      "--max-connections": { value: "500", expected: 500 },
      "--metrics-port": { value: "9101", expected: 9101 },
      "--metrics-hostname": { value: "0.0.0.0", expected: "0.0.0.0" },
    },
  },
  dns: {
    parse: (args, env) => run(parseDnsFlags(args, env)),
    help: DNS_HELP,
    env: { PLANE_CONTROLLER_URL: "http://env.test:8080", PLANE_DNS_ZONE: "acme.env.test" },
    args: [],
    samples: {
      "--controller-url": { value: "http://plane.test:8080", expected: "http://plane.test:8080" },
      "--zone": { value: "acme.example.net", expected: "acme.example.net" },
      "--name": { value: "ns-one", expected: "ns-one" },
      "--secret": { value: "s3cret", expected: "s3cret" },
      "--port": { value: "5353", expected: 5353 },
      "--hostname": { value: "127.0.0.1", expected: "127.0.0.1" },
      "--log-level": { value: "debug", expected: "debug" },
    },
  },
};

const README = await Deno.readTextFile(new URL("../README.md", import.meta.url));

Deno.test("updateReadme() replaces only what lies between the markers", () => {
  const docs = ROLES[0]!;
  const { start, end } = markers(docs.role);
  const readme = `# Title\n\nBefore.\n\n${start}\nold table\n${end}\n\nAfter.\n`;
  const updated = updateReadme(readme, [docs]);
  assert.equal(updated, `# Title\n\nBefore.\n\n${start}${sectionBody(docs)}${end}\n\nAfter.\n`);
  assert.equal(updateReadme(updated, [docs]), updated);
  assert.throws(() => updateReadme("# No markers\n", [docs]), /needs "<!-- config:controller/);
});

Deno.test("renderTable() lays tables out as deno fmt does", async () => {
  const text = ROLES.map(renderTable).join("\n\n") + "\n";
  const fmt = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext=md", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = fmt.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await fmt.output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  assert.equal(new TextDecoder().decode(out.stdout), text);
  assert.equal(
    markdownTable(["A", "Bee"], [["`x\\|y`", "1"]]),
    "| A      | Bee |\n| ------ | --- |\n| `x\\|y` | 1   |",
  );
});

Deno.test("defaults come from the schemas: required, computed, conditional and unset", () => {
  const byRole = (role: Role) => ROLES.find((d) => d.role === role)!;
  const cell = (role: Role, flag: string) => {
    const docs = byRole(role);
    return defaultCell(docs, docs.flags.find((r) => r.flag === flag)!);
  };
  assert.equal(cell("controller", "--db"), "required");
  assert.equal(cell("controller", "--port"), "`8080`");
  assert.equal(cell("controller", "--api-key"), "none");
  assert.equal(cell("controller", "--controller-url"), "`http://HOST:PORT`");
  assert.equal(cell("drone", "--pool"), "empty");
  assert.equal(cell("proxy", "--http-port"), "`9090`; `80` with `--https`");
  assert.equal(cell("proxy", "--https-port"), "`443` with `--https`");
});

for (const docs of ROLES) {
  const internal: readonly string[] = INTERNAL_FIELDS[docs.role];
  const documented = docs.flags.map((row) => row.field);

  Deno.test(`README: the ${docs.role} table is the one rendered from the schema`, () => {
    const { start, end } = markers(docs.role);
    assert.ok(README.includes(start) && README.includes(end), `${STALE} (${start} missing)`);
    assert.equal(section(README, docs.role), sectionBody(docs), STALE);
  });

  Deno.test(`${docs.role}: every config field has a flag or is listed as internal`, () => {
    const fields = Object.keys(schemaFields(docs.schema));
    const missing = fields.filter((f) => !documented.includes(f) && !internal.includes(f));
    assert.deepEqual(
      missing,
      [],
      `add a row to the ${docs.role} flag table in cli/${docs.role}_command.ts, or list the ` +
        "field in INTERNAL_FIELDS in _tools/config_docs_test.ts",
    );
    assert.deepEqual(internal.filter((f) => documented.includes(f)), [], "internal and flagged");
    assert.deepEqual(internal.filter((f) => !fields.includes(f)), [], "internal but not a field");
    assert.equal(new Set(documented).size, documented.length, "two flags for one field");
    assert.equal(new Set(docs.flags.map((r) => r.flag)).size, docs.flags.length, "repeated flag");
    for (const row of docs.flags) {
      if (row.unset === undefined) continue;
      assert.ok(
        !isRequired(docs.schema, row.field) && parseMinimal(docs)[row.field] === undefined,
        `${row.flag}: "unset" text for a field the schema gives a default`,
      );
    }
  });

  Deno.test(`${docs.role}: every documented flag and variable reaches its field`, () => {
    const c = CASES[docs.role];
    const fields = schemaFields(docs.schema);
    const base = c.parse(c.args, (name) => c.env[name]);
    for (const row of docs.flags) {
      const sample = c.samples[row.flag];
      assert.ok(sample, `no test sample for ${row.flag}: add one to CASES.${docs.role}`);
      assert.ok(c.help.includes(row.flag), `${row.flag} is missing from the --help text`);
      const expected = fields[row.field]!.parse(sample.expected);
      assert.notDeepEqual(base[row.field], expected, `${row.flag}: sample equals the default`);

      const flagArgs = sample.value === undefined ? [row.flag] : [row.flag, sample.value];
      const fromFlag = c.parse([...c.args, ...flagArgs, ...sample.with ?? []], (n) => c.env[n]);
      assert.deepEqual(fromFlag[row.field], expected, `${row.flag} sets ${row.field}`);

      if (row.env === undefined) continue;
      const vars = { ...c.env, [row.env]: sample.env ?? sample.value ?? "" };
      const fromEnv = c.parse([...c.args, ...sample.with ?? []], (name) => vars[name]);
      const envExpected = fields[row.field]!.parse(sample.envExpected ?? sample.expected);
      assert.deepEqual(fromEnv[row.field], envExpected, `${row.env} sets ${row.field}`);
    }
  });

  Deno.test(`${docs.role}: the parser reads exactly the documented variables`, () => {
    const c = CASES[docs.role];
    const read = new Set<string>();
    c.parse(c.args, (name) => {
      read.add(name);
      return c.env[name];
    });
    const envs = docs.flags.flatMap((row) => row.env === undefined ? [] : [row.env]);
    assert.deepEqual(
      [...read].sort(),
      [...new Set(envs)].sort(),
      "variables read by the parser ≠ variables in the flag table",
    );
  });
}

Deno.test("README: the metrics table is the one rendered from the code's metric definitions", () => {
  const { start, end } = METRICS_MARKERS;
  assert.ok(README.includes(start) && README.includes(end), `${STALE} (${start} missing)`);
  assert.equal(updateMetricsSection(README), README, STALE);
  for (const metric of ALL_METRICS) assert.ok(renderMetricsTable().includes(`\`${metric.name}\``));
});

Deno.test("every metric follows Prometheus naming: one name each, _total counters, base units", () => {
  const names = ALL_METRICS.map((m) => m.name);
  assert.deepEqual(names, [...new Set(names)], "no name twice");
  for (const m of ALL_METRICS) {
    assert.match(m.name, /^(plane|process)_[a-z0-9_]+$/, m.name);
    if (m.type === "counter") assert.match(m.name, /_total$/, m.name);
    else assert.doesNotMatch(m.name, /_total$/, m.name);
    assert.doesNotMatch(m.name, /_(ms|milliseconds|kb|mb|percent)(_|$)/, `${m.name}: base units`);
  }
});
