import assert from "node:assert/strict";
import { parseProxyFlags } from "./proxy_command.ts";
import { UsageError } from "./usage_error.ts";
import { startFakeController } from "../proxy/testing/fake_controller.ts";
import { request } from "../proxy/testing/http_client.ts";
import { waitFor } from "../testing/wait_for.ts";

const env = (values: Record<string, string>) => (name: string) => values[name];
const base = ["--controller-url", "http://127.0.0.1:8080", "--cluster", "localhost:9090"];

function config(args: string[], vars: Record<string, string> = {}) {
  const result = parseProxyFlags(args, env(vars));
  assert.equal(result.kind, "run");
  if (result.kind !== "run") throw new Error("unreachable");
  return result.config;
}

Deno.test("parseProxyFlags() builds a config from flags over the environment", () => {
  const c = config(
    [...base, "--name", "px-edge", "--root-redirect-url", "https://plane.test/"],
    { PLANE_CLUSTER_SECRET: "s3cret", PLANE_CLUSTER: "ignored.test" },
  );
  assert.equal(c.cluster, "localhost:9090");
  assert.equal(c.name, "px-edge");
  assert.equal(c.secret, "s3cret");
  assert.equal(c.rootRedirectUrl, "https://plane.test/");
  assert.equal(c.routeWaitSeconds, 300);
  assert.equal(c.bodyTimeoutSeconds, 30);
  assert.equal(c.hostname, "0.0.0.0");
  const fromEnv = config([], {
    PLANE_CONTROLLER_URL: "http://c:8080",
    PLANE_CLUSTER: "plane.test",
    PLANE_LOG_LEVEL: "debug",
  });
  assert.equal(fromEnv.cluster, "plane.test");
  assert.equal(fromEnv.logLevel, "debug");
  assert.equal(config([...base, "--route-wait-seconds", "2.5"]).routeWaitSeconds, 2.5);
  assert.equal(config([...base, "--body-timeout-seconds", "1.5"]).bodyTimeoutSeconds, 1.5);
});

Deno.test("parseProxyFlags() runs one worker per CPU core unless --workers says otherwise (issue 13)", () => {
  // Unset: startProxy runs navigator.hardwareConcurrency workers.
  assert.equal(config(base).workers, undefined);
  assert.equal(config([...base, "--workers", "1"]).workers, 1);
  assert.equal(config([...base, "--workers", "3"]).workers, 3);
});

Deno.test("parseProxyFlags() picks ports by plane-0.5.md §7.1's table", () => {
  const ports = (args: string[]) => {
    const c = config([...base, ...args]);
    return [c.https, c.httpPort, c.httpsPort];
  };
  const cert = ["--cert-path", "cert.json"];
  assert.deepEqual(ports([]), [false, 9090, undefined]);
  assert.deepEqual(ports(["--http-port", "8000"]), [false, 8000, undefined]);
  assert.deepEqual(ports(["--https", ...cert]), [true, 80, 443]);
  assert.deepEqual(ports(["--https", "--http-port", "8080", ...cert]), [true, 8080, 443]);
  assert.deepEqual(ports(["--https-port", "8443", ...cert]), [true, 80, 8443]);
  assert.deepEqual(ports(["--http-port", "81", "--https-port", "8443", ...cert]), [
    true,
    81,
    8443,
  ]);
});

const ACME = ["--acme-endpoint", "https://acme.test/dir", "--acme-email", "ops@plane.test"];

Deno.test("parseProxyFlags(): ACME turns HTTPS on and keeps its settings together (plane-0.5.md §10.4)", () => {
  const c = config([...base, ...ACME, "--cert-path", "c.json", "--https-port", "8443"]);
  assert.equal(c.https, true);
  assert.equal(c.httpsPort, 8443);
  assert.deepEqual(c.acme, {
    directoryUrl: "https://acme.test/dir",
    email: "ops@plane.test",
    eab: undefined,
    caFile: undefined,
  });
  const eab = config([
    ...base,
    ...ACME,
    "--cert-path",
    "c.json",
    "--acme-eab-kid",
    "kid",
    "--acme-eab-hmac-key",
    "aGVsbG8",
  ]);
  assert.deepEqual(eab.acme?.eab, { kid: "kid", hmacKey: "aGVsbG8" });
  assert.equal(eab.httpsPort, 443);
});

Deno.test("parseProxyFlags() answers each mistake with one precise line", () => {
  const cases: [string[], RegExp][] = [
    // Issue 12: a missing required flag is named with its variable, not zod's wording.
    [["--cluster", "c"], /^--controller-url is required \(or PLANE_CONTROLLER_URL\)$/],
    [["--controller-url", "http://c:1"], /^--cluster is required \(or PLANE_CLUSTER\)$/],
    [[...base, "--cluster", "bad cluster"], /Invalid cluster name "bad cluster"/],
    [[...base, "--bogus"], /Unknown flag --bogus for "plane proxy"/],
    [[...base, "--http-port", "x"], /Invalid --http-port: expected a whole number/],
    [[...base, "--http-port", "70000"], /^Invalid --http-port: /],
    [[...base, "--https"], /HTTPS needs a certificate file: pass --cert-path FILE/],
    [[...base, "--https-port", "8443"], /HTTPS needs a certificate file/],
    [[...base, "--name", "Proxy1"], /Invalid proxy name "Proxy1"/],
    [[...base, "--name", "dr-x"], /must start with "px-"/],
    [[...base, "--route-wait-seconds", "0"], /Invalid --route-wait-seconds/],
    [[...base, "--body-timeout-seconds", "0"], /Invalid --body-timeout-seconds/],
    [[...base, "--root-redirect-url", "nope"], /^Invalid --root-redirect-url: /],
    [[...base, "--log-level", "loud"], /^Invalid --log-level: /],
    [[...base, "--workers", "0"], /^Invalid --workers: expected at least 1, got 0$/],
    [
      [...base, "--max-connections", "0"],
      /^Invalid --max-connections: expected at least 1, got 0$/,
    ],
    [
      [...base, "--max-connections", "x"],
      /^Invalid --max-connections: expected a whole number, got "x"$/,
    ],
    [[...base, "--workers", "two"], /^Invalid --workers: expected a whole number, got "two"$/],
    [
      [...base, "--acme-endpoint", "https://a.test/dir"],
      /needs both --acme-endpoint URL and --acme-email/,
    ],
    [[...base, "--acme-email", "a@b.test"], /needs both --acme-endpoint URL and --acme-email/],
    [[...base, ...ACME], /ACME needs a file to keep the certificate in: pass --cert-path FILE/],
    [
      [...base, ...ACME, "--cert-path", "c.json", "--acme-eab-kid", "k"],
      /needs both --acme-eab-kid/,
    ],
    [[...base, "--acme-ca-file", "ca.pem"], /ACME flags need --acme-endpoint/],
  ];
  for (const [args, message] of cases) {
    assert.throws(
      () => parseProxyFlags(args, env({})),
      (err) => err instanceof UsageError && message.test(err.message),
      args.join(" "),
    );
  }
  assert.deepEqual(parseProxyFlags(["--help"], env({})), { kind: "help" });
});

Deno.test("plane proxy: serves /ready once connected and stops on SIGTERM with status 0", async () => {
  await using fake = startFakeController();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      "--allow-sys",
      new URL("./main.ts", import.meta.url).pathname,
      "proxy",
      "--controller-url",
      fake.url,
      "--cluster",
      "plane.test",
      "--http-port",
      "0",
    ],
    env: { PLANE_LOG_LEVEL: "info" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let port = 0;
  let seen = "";
  try {
    // The start-up log line names the bound port (asked for 0).
    while (port === 0) {
      const { value, done } = await lines.read();
      if (done) throw new Error(`plane proxy exited early: ${seen}`);
      seen += value;
      const match = /"message":"Proxy listening"[^\n]*"http":(\d+)/.exec(seen);
      if (match) port = Number(match[1]);
    }
    await waitFor(async () => (await request(port, "/ready")).status === 200, {
      message: "plane proxy ready",
    });
    assert.equal(fake.peers.length, 1);
    assert.match(fake.peers[0]!.name, /^px-[a-z0-9]{14}$/);
    child.kill("SIGTERM");
    const status = await child.status;
    assert.equal(status.code, 0);
  } finally {
    await lines.cancel().catch(() => {});
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await child.status;
  }
});

Deno.test("plane proxy without --unstable-net: one worker per core falls back to one thread with a warning; --workers 2 is one error line", async () => {
  await using fake = startFakeController();
  // deno.json without its `unstable` list: Deno as a user may run it by hand.
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  delete config.unstable;
  delete config.tasks;
  const dir = await Deno.makeTempDir();
  const configPath = `${dir}/deno.json`;
  await Deno.writeTextFile(configPath, JSON.stringify(config));
  const plane = (extra: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: [
        ...["run", "-q", "--config", configPath, "--no-lock", "--allow-net", "--allow-env"],
        ...["--allow-read", "--allow-write", "--allow-run", "--allow-sys"],
        new URL("./main.ts", import.meta.url).pathname,
        ...["proxy", "--controller-url", fake.url, "--cluster", "plane.test"],
        ...["--hostname", "127.0.0.1", "--http-port", "0", ...extra],
      ],
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    });
  try {
    const refused = await plane(["--workers", "2"]).output();
    assert.equal(refused.code, 1);
    assert.match(
      new TextDecoder().decode(refused.stderr),
      /Cannot start 2 proxy workers on one port: Deno needs --unstable-net/,
    );

    const child = plane([]).spawn();
    const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    try {
      while (!seen.includes('"message":"Proxy listening"')) {
        const { value, done } = await lines.read();
        if (done) throw new Error(`plane proxy exited: ${seen}`);
        seen += value;
      }
      assert.match(seen, /"level":"warn"[^\n]*"Serving on one thread: pass --unstable-net/);
      assert.match(seen, /"message":"Proxy listening"[^\n]*"workers":1/);
    } finally {
      child.kill("SIGTERM");
      await lines.cancel().catch(() => {});
      await child.status;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
