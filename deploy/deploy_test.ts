/**
 * The deployment files hold up: `docker compose config` accepts docker-compose.yml,
 * `systemd-analyze verify` accepts the units, their hardening is in place, every environment
 * variable they set is one our configuration reads, their command lines parse with the roles'
 * own flag parsers, and the controller answers what a CDN must not cache with `no-store`.
 *
 * The two external tools come from Debian's packages (`.ci/run` installs them). Each test's
 * name says which tool ran, or why it could not; with `PLANE_REQUIRE_DEPLOY_TOOLS=1` a missing
 * tool is a failure instead of an ignored test.
 */
import assert from "node:assert/strict";
import { parseControllerFlags } from "../cli/controller_command.ts";
import { parseDroneFlags } from "../cli/drone_command.ts";
import { parseProxyFlags } from "../cli/proxy_command.ts";
import { parseDnsFlags } from "../cli/dns_command.ts";
import { ADMIN_ENV } from "../cli/admin_command.ts";
import { CONTROLLER_ENV } from "../controller/config_from_env.ts";
import { startTestController } from "../controller/testing/test_controller.ts";
import { seedBackend, seedDrone } from "../controller/testing/seed.ts";
import { ALL_METRICS, seriesNames } from "../_tools/metrics_catalogue.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const COMPOSE_FILE = `${ROOT}docker-compose.yml`;
const UNITS = ["plane-controller.service", "plane-drone.service", "plane-dns.service"];
const UNIT_DIR = `${ROOT}deploy/systemd/`;
const REQUIRE_TOOLS = Deno.env.get("PLANE_REQUIRE_DEPLOY_TOOLS") === "1";
/** Variables for Deno itself, not for our configuration. */
const DENO_VARS = new Set(["DENO_DIR", "DENO_NO_UPDATE_CHECK", "NO_COLOR"]);
const SECRETS = { PLANE_API_KEY: "k".repeat(24), PLANE_CLUSTER_SECRET: "s".repeat(24) };

function runSync(command: string[], env?: Record<string, string>) {
  try {
    const output = new Deno.Command(command[0]!, {
      args: command.slice(1),
      stdin: "null",
      ...(env ? { env, clearEnv: true } : {}),
    }).outputSync();
    const decoder = new TextDecoder();
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } catch (err) {
    return { code: -1, stdout: "", stderr: err instanceof Error ? err.message : String(err) };
  }
}

type Tool = { found: true; command: string[]; label: string } | { found: false; why: string };

/** `docker compose` (the v2 plugin) or Debian's `docker-compose`, whichever answers. */
function findCompose(): Tool {
  const tried: string[] = [];
  for (const command of [["docker", "compose"], ["docker-compose"]]) {
    const version = runSync([...command, "version"]);
    if (version.code === 0) {
      const label = `${command.join(" ")} ${/v?\d+\.\d+\.\d+/.exec(version.stdout)?.[0] ?? ""}`;
      return { found: true, command, label: label.trim() };
    }
    tried.push(
      `${command.join(" ")}: ${version.stderr.trim().split("\n")[0] || `exit ${version.code}`}`,
    );
  }
  return { found: false, why: tried.join("; ") };
}

function findSystemdAnalyze(): Tool {
  const version = runSync(["systemd-analyze", "--version"]);
  if (version.code !== 0) {
    return { found: false, why: `systemd-analyze: ${version.stderr.trim().split("\n")[0]}` };
  }
  const label = `systemd-analyze ${/systemd (\d+)/.exec(version.stdout)?.[1] ?? ""}`.trim();
  return { found: true, command: ["systemd-analyze"], label };
}

/** A test that needs `tool`: named after the tool that ran, or after why none could. */
function toolTest(what: string, tool: Tool, fn: (command: string[]) => Promise<void> | void) {
  if (tool.found) {
    Deno.test(`${what} (ran ${tool.label})`, () => fn(tool.command));
    return;
  }
  const why = `could not run: ${tool.why}`;
  Deno.test({
    name: `${what} (${why}${REQUIRE_TOOLS ? "" : "; set PLANE_REQUIRE_DEPLOY_TOOLS=1 to fail"})`,
    ignore: !REQUIRE_TOOLS,
    fn() {
      throw new Error(`PLANE_REQUIRE_DEPLOY_TOOLS=1 but ${what} ${why}`);
    },
  });
}

// ---- Reading the files (their formats are ours, so small line readers suffice) ----

interface ComposeService {
  image: string | null;
  command: string[];
  environment: Record<string, string>;
}

/**
 * The services of our docker-compose.yml: image (or the `x-plane` anchor's), the command (a
 * JSON-style flow list, or a block list) and the `environment:` mapping.
 */
function readCompose(text: string): Record<string, ComposeService> {
  const services: Record<string, ComposeService> = {};
  let section = "";
  let current: ComposeService | null = null;
  let block: "command" | "environment" | null = null;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\s+#.*$/, "").replace(/^#.*$/, "");
    if (line.trim() === "") continue;
    const indent = line.length - line.trimStart().length;
    const trimmed = line.trim();
    if (indent === 0) {
      section = trimmed.replace(/:.*$/, "");
      current = null;
      continue;
    }
    if (section !== "services") continue;
    if (indent === 2) {
      current = { image: null, command: [], environment: {} };
      services[trimmed.replace(/:$/, "")] = current;
      block = null;
      continue;
    }
    if (!current) continue;
    if (indent === 4) {
      block = null;
      const [key, ...rest] = trimmed.split(":");
      const value = rest.join(":").trim();
      if (key === "<<" && value === "*plane") current.image = "plane";
      if (key === "image") current.image = value;
      if (key === "command") {
        if (value) current.command = JSON.parse(value);
        else block = "command";
      }
      if (key === "environment") block = "environment";
      continue;
    }
    if (block === "command" && trimmed.startsWith("- ")) current.command.push(trimmed.slice(2));
    if (block === "environment") {
      const colon = trimmed.indexOf(":");
      current.environment[trimmed.slice(0, colon)] = trimmed.slice(colon + 1).trim();
    }
  }
  return services;
}

/** A unit file's `[Service]` (and other) settings: key → every value given, in order. */
function readUnit(text: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith("[")) continue;
    const eq = line.indexOf("=");
    const key = line.slice(0, eq);
    settings.set(key, [...(settings.get(key) ?? []), line.slice(eq + 1)]);
  }
  return settings;
}

/** `KEY=value` lines of an environment file. */
function readEnvFile(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) vars[match[1]!] = match[2]!;
  }
  return vars;
}

/** Fills `${NAME:?message}` / `${NAME}` the way compose interpolates, from `values`. */
function interpolate(value: string, values: Record<string, string>): string {
  return value.replace(/\$\{(\w+)(?::[?-][^}]*)?\}/g, (_, name) => values[name] ?? "");
}

/** The environment variables `parse` asks for, whatever it then makes of them. */
function variablesRead(parse: (env: (name: string) => string | undefined) => unknown) {
  const names = new Set<string>();
  try {
    parse((name) => {
      names.add(name);
      return undefined;
    });
  } catch {
    // An empty environment is not a valid configuration; only the names matter here.
  }
  return names;
}

type Role = "controller" | "drone" | "proxy" | "dns";

const READ_BY: Record<Role, Set<string>> = {
  controller: new Set(Object.values(CONTROLLER_ENV)),
  drone: variablesRead((env) => parseDroneFlags([], env, () => "{}")),
  proxy: variablesRead((env) => parseProxyFlags([], env)),
  dns: variablesRead((env) => parseDnsFlags([], env)),
};
const READ_BY_ANYONE = new Set([
  ...Object.values(READ_BY).flatMap((s) => [...s]),
  ...Object.values(ADMIN_ENV),
]);

/** Parses a role's command line with its own flag parser over `env`; throws on a mistake. */
function parseRole(args: string[], env: Record<string, string>): Role {
  const [role, ...rest] = args;
  const get = (name: string) => env[name];
  switch (role) {
    case "controller":
      assert.equal(parseControllerFlags(rest, get).kind, "run");
      return role;
    case "drone":
      assert.equal(parseDroneFlags(rest, get, () => "{}").kind, "run");
      return role;
    case "proxy":
      assert.equal(parseProxyFlags(rest, get).kind, "run");
      return role;
    case "dns":
      assert.equal(parseDnsFlags(rest, get).kind, "run");
      return role;
    default:
      throw new Error(`Unknown role "${role}" in ${args.join(" ")}`);
  }
}

// ---- Tests ----

Deno.test("deploy: every role reads the variables the deployment files rely on", () => {
  assert.ok(READ_BY.controller.has("DATABASE_URL"));
  for (const role of ["drone", "proxy"] as const) {
    for (const name of ["PLANE_CONTROLLER_URL", "PLANE_CLUSTER", "PLANE_CLUSTER_SECRET"]) {
      assert.ok(READ_BY[role].has(name), `${role} reads ${name}`);
    }
  }
});

Deno.test("docker-compose.yml: plane services set only variables their role reads, and their commands parse", async () => {
  const services = readCompose(await Deno.readTextFile(COMPOSE_FILE));
  assert.deepEqual(Object.keys(services).sort(), ["controller", "drone", "postgres", "proxy"]);
  assert.equal(services.postgres!.image, "postgres:16");
  for (const name of ["controller", "drone", "proxy"]) {
    const service = services[name]!;
    assert.equal(service.image, "plane", name);
    const env = Object.fromEntries(
      Object.entries(service.environment).map(([k, v]) => [k, interpolate(v, SECRETS)]),
    );
    const role = parseRole(service.command, env);
    assert.equal(role, name);
    for (const variable of Object.keys(env)) {
      assert.ok(READ_BY[role].has(variable), `${name} sets ${variable}, which ${role} never reads`);
    }
  }
  assert.ok(services.controller!.command.join(" ").includes("--host 0.0.0.0"));
  assert.match(services.controller!.environment.PLANE_API_KEYS!, /\$\{PLANE_API_KEY:\?/);
  assert.ok(services.drone!.command.join(" ").includes("--runtime docker"));
  const drone = await Deno.readTextFile(COMPOSE_FILE);
  assert.match(drone, /- \/var\/run\/docker\.sock:\/var\/run\/docker\.sock/);
});

Deno.test("Dockerfile: Debian slim, Deno from npm at CI's version, frozen install, deno task plane as plane", async () => {
  // No registry is reachable here, so the image is not built; its instructions are checked.
  const text = await Deno.readTextFile(`${ROOT}Dockerfile`);
  const instructions = text.replace(/\\\n/g, " ").split("\n").map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  const froms = instructions.filter((l) => l.startsWith("FROM "));
  assert.ok(
    froms.length >= 1 && froms.every((l) => /^FROM debian:[\w.-]+-slim\b/.test(l)),
    froms.join(),
  );
  const stages = froms.map((l) => / AS (\w+)$/i.exec(l)?.[1]).filter(Boolean);
  for (const line of instructions.filter((l) => l.startsWith("COPY --from="))) {
    assert.ok(stages.includes(/--from=(\w+)/.exec(line)![1]!), line);
  }
  const ciVersion = /^DENO_VERSION=(\S+)$/m.exec(await Deno.readTextFile(`${ROOT}.ci/run`))?.[1];
  assert.ok(instructions.includes(`ARG DENO_VERSION=${ciVersion}`), "same Deno as CI");
  assert.match(text, /npm install --global "deno@\$\{DENO_VERSION\}"/);
  assert.match(text, /deno install --frozen/);
  assert.ok(instructions.includes("USER plane"));
  assert.equal(instructions.at(-2), 'ENTRYPOINT ["deno", "task", "plane"]');
  const ignored = (await Deno.readTextFile(`${ROOT}.dockerignore`)).split("\n");
  for (const path of [".git", ".plane", "node_modules"]) assert.ok(ignored.includes(path), path);
});

Deno.test("deploy/systemd: units are hardened and set only variables their role reads", async () => {
  for (const unit of UNITS) {
    const settings = readUnit(await Deno.readTextFile(`${UNIT_DIR}${unit}`));
    const one = (key: string) => settings.get(key)?.at(-1);
    assert.equal(one("User"), "plane", unit);
    assert.equal(one("NoNewPrivileges"), "yes", unit);
    assert.equal(one("ProtectSystem"), "strict", unit);
    assert.equal(one("StateDirectory"), "plane", unit);
    assert.equal(one("Restart"), "on-failure", unit);
    assert.match(one("EnvironmentFile") ?? "", /^\/etc\/plane\/\w+\.env$/, unit);
    assert.equal(settings.get("MemoryDenyWriteExecute"), undefined, "V8 needs W+X pages");
    const execStart = one("ExecStart")!;
    assert.match(execStart, /^\/usr\/local\/bin\/deno run --cached-only --frozen /);
    const args = execStart.split(/\s+/);
    const roleArgs = args.slice(args.indexOf("/opt/plane/cli/main.ts") + 1);
    const expanded = new Set([...execStart.matchAll(/\$\{?(\w+)\}?/g)].map((m) => m[1]!));

    // The unit's own Environment= lines, then the example environment file it documents.
    const env: Record<string, string> = {};
    for (const assignment of settings.get("Environment") ?? []) {
      const [name, ...value] = assignment.split("=");
      env[name!] = value.join("=");
    }
    const exampleName = one("EnvironmentFile")!.split("/").at(-1)!;
    Object.assign(env, readEnvFile(await Deno.readTextFile(`${UNIT_DIR}${exampleName}.example`)));
    const substituted = roleArgs.flatMap((a) =>
      a.startsWith("$") ? (env[a.replace(/[${}]/g, "")] ?? "").split(/\s+/).filter(Boolean) : [a]
    );
    const role = parseRole(substituted, env);
    assert.equal(unit, `plane-${role}.service`);
    for (const variable of Object.keys(env)) {
      assert.ok(
        READ_BY[role].has(variable) || DENO_VARS.has(variable) || expanded.has(variable),
        `${unit} sets ${variable}, which ${role} never reads`,
      );
    }
    if (role === "drone") assert.equal(one("SupplementaryGroups"), "docker");
  }
  // The admin commands read PLANE_API_KEY, which the controller reads as PLANE_API_KEYS.
  assert.ok(READ_BY_ANYONE.has("PLANE_API_KEY"));
});

toolTest("docker-compose.yml: compose config accepts it", findCompose(), (compose) => {
  const base = { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: Deno.env.get("HOME") ?? "/" };
  const ok = runSync([...compose, "-f", COMPOSE_FILE, "config"], { ...base, ...SECRETS });
  assert.equal(ok.code, 0, ok.stderr);
  for (const service of ["postgres:", "controller:", "drone:", "proxy:"]) {
    assert.ok(ok.stdout.includes(service), `${service} in:\n${ok.stdout}`);
  }
  // The API key and cluster secret have no defaults: compose refuses to start without them.
  const missing = runSync([...compose, "-f", COMPOSE_FILE, "config"], base);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /PLANE_API_KEY|PLANE_CLUSTER_SECRET/);
});

toolTest("deploy/systemd: systemd-analyze verify accepts the units", findSystemdAnalyze(), async (
  analyze,
) => {
  // verify insists the Exec binaries exist; ours run /usr/local/bin/deno, which this machine
  // may not have, so a copy of each unit points at the deno running this test instead.
  await using dir = await tempDir();
  for (const unit of UNITS) {
    const text = await Deno.readTextFile(`${UNIT_DIR}${unit}`);
    const copy = `${dir.path}/${unit}`;
    await Deno.writeTextFile(copy, text.replaceAll("/usr/local/bin/deno", Deno.execPath()));
    const result = runSync([...analyze, "verify", "--man=no", copy]);
    // Bad values are only warnings to systemd (exit 0): any output at all is a failure here.
    assert.equal(result.code, 0, `${unit}: ${result.stderr}`);
    assert.equal(result.stderr.trim(), "", unit);
  }
});

async function tempDir() {
  const path = await Deno.makeTempDir({ prefix: "plane-units-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

Deno.test("deploy/deno-deploy.md: what a CDN must not cache is answered with cache-control: no-store", async () => {
  await using t = await startTestController();
  const drone = await seedDrone(t.db, { controller: t.controller.name, cluster: "localhost:9090" });
  const id = await seedBackend(t.db, { droneId: drone.id, cluster: "localhost:9090" });
  const paths = [
    "/pub/health",
    `/pub/b/${id}/status`,
    `/pub/b/${id}/status?wait=ready&timeout=0`,
    `/pub/b/${id}/status-stream`,
    "/pub/b/nosuchbackend/status",
    "/ctrl/status",
    `/ctrl/b/${id}`,
    "/ctrl/c/localhost:9090/state",
    "/ctrl/b/nosuchbackend/logs",
    "/nowhere",
  ];
  for (const path of paths) {
    const response = await t.request(path);
    await response.body?.cancel();
    assert.equal(response.headers.get("cache-control"), "no-store", `${path} (${response.status})`);
  }
});

/** Every string under `key` anywhere in a JSON value (a dashboard's `expr`s). */
function stringsAt(value: unknown, key: string, out: string[] = []): string[] {
  if (Array.isArray(value)) { for (const item of value) stringsAt(item, key, out); }
  else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (k === key && typeof v === "string") out.push(v);
      else stringsAt(v, key, out);
    }
  }
  return out;
}

Deno.test("deploy/grafana-dashboard.json parses and queries only series the code exposes", async () => {
  const dashboard = JSON.parse(await Deno.readTextFile(`${ROOT}deploy/grafana-dashboard.json`));
  assert.equal(typeof dashboard.title, "string");
  assert.ok(Array.isArray(dashboard.panels) && dashboard.panels.length > 0);
  const exprs = stringsAt(dashboard.panels, "expr");
  assert.ok(exprs.length > 0, "the panels have queries");
  const known = new Set(ALL_METRICS.flatMap(seriesNames));
  const used = new Set<string>();
  for (const expr of exprs) {
    for (const [name] of expr.matchAll(/\b(?:plane|process)_[a-z0-9_]+\b/g)) {
      assert.ok(known.has(name), `${name} in "${expr}" is a series the code exposes`);
      used.add(name);
    }
  }
  // The issue's headline series each have a panel.
  for (
    const name of [
      "plane_backends",
      "plane_connect_duration_seconds_bucket",
      "plane_backend_spawn_to_ready_seconds_bucket",
      "plane_action_queue_depth",
      "plane_drone_heartbeat_age_seconds",
      "plane_proxy_requests_total",
      "plane_proxy_request_duration_seconds_bucket",
      "plane_proxy_active_websockets",
      "plane_backend_cpu_usage_ratio",
      "plane_backend_memory_bytes",
      "plane_event_loop_lag_seconds",
    ]
  ) assert.ok(used.has(name), `a panel shows ${name}`);
  // Every panel's data source is the dashboard's variable, so an import asks for none by uid.
  for (const target of dashboard.panels.flatMap((p: { targets?: unknown[] }) => p.targets ?? [])) {
    assert.equal((target as { datasource: { uid: string } }).datasource.uid, "${datasource}");
  }
});
