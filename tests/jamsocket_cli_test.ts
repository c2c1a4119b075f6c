/**
 * The official `jamsocket` CLI (npm `jamsocket@0.10.7`, unchanged) against `plane controller`
 * + `plane drone` + `plane proxy` as users run them, pointed at the controller with
 * `JAMSOCKET_SERVER_API` (jamsocket-api.md §6.4): every command but `push` and browser login,
 * each asserted on what it prints. The CLI is installed from npm once into `bench_out/` (kept
 * between runs); when npm or its registry cannot be reached the test fails, saying so. The
 * CLI's own version check (registry.npmjs.org, on errors) is switched off by a preload, so all
 * traffic stays on loopback.
 */
import assert from "node:assert/strict";
import { startPlaneCluster } from "./plane_process.ts";
import { waitFor } from "../testing/wait_for.ts";

const VERSION = "0.10.7";
const CACHE = new URL(`../bench_out/jamsocket-cli-${VERSION}/`, import.meta.url).pathname;
const API_KEY = "acme.jamsocket-cli-test-key-0123";
const SECRET = "jamsocket-cli-test-cluster-secret";

/** Installs the CLI once (npm), and a preload that turns off its registry version check. */
async function installCli(): Promise<{ run: string; preload: string }> {
  const run = `${CACHE}node_modules/jamsocket/bin/run`;
  const preload = `${CACHE}no_version_check.cjs`;
  const installed = await Deno.readTextFile(`${CACHE}node_modules/jamsocket/package.json`)
    .then((text) => JSON.parse(text).version === VERSION, () => false);
  if (!installed) {
    await Deno.mkdir(CACHE, { recursive: true });
    let output: Deno.CommandOutput;
    try {
      output = await new Deno.Command("npm", {
        args: ["install", "--prefix", CACHE, "--no-audit", "--no-fund", `jamsocket@${VERSION}`],
        stdin: "null",
      }).output();
    } catch (err) {
      throw new Error(
        `The Jamsocket CLI test needs npm (Node 20) to install jamsocket@${VERSION}: ` +
          (err as Error).message,
      );
    }
    if (!output.success) {
      throw new Error(
        `Cannot install the official CLI (npm install jamsocket@${VERSION}); is the npm ` +
          `registry reachable?\n${new TextDecoder().decode(output.stderr)}`,
      );
    }
  }
  await Deno.writeTextFile(
    preload,
    `require(${JSON.stringify(`${CACHE}node_modules/jamsocket/lib/lib/request.js`)})` +
      ".checkVersion = async () => {};\n",
  );
  return { run, preload };
}

interface Cli {
  /** Runs a command to its end. */
  (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Runs a streaming command until its output matches `until`, then stops it. */
  stream(args: string[], until: RegExp): Promise<string>;
}

function cliFor(
  install: { run: string; preload: string },
  env: Record<string, string>,
): Cli {
  const command = (args: string[]) =>
    new Deno.Command("node", {
      args: ["--require", install.preload, install.run, ...args],
      env: { ...env, "NO_COLOR": "1", "FORCE_COLOR": "0" },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    });
  const decoder = new TextDecoder();
  const cli = (async (...args: string[]) => {
    const output = await command(args).output();
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  }) as Cli;
  cli.stream = async (args, until) => {
    const child = command(args).spawn();
    const stderr = new Response(child.stderr).text();
    let text = "";
    const reader = child.stdout.getReader();
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    try {
      while (!until.test(text)) {
        const { done, value } = await reader.read();
        if (done) {
          throw new Error(
            `jamsocket ${args.join(" ")} ended before printing ${until}:\n${text}\n${await stderr}`,
          );
        }
        text += decoder.decode(value, { stream: true });
      }
    } finally {
      clearTimeout(timer);
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await reader.cancel().catch(() => {});
      await child.status;
      await stderr;
    }
    return text;
  };
  return cli;
}

Deno.test("the official jamsocket CLI: login, services, images, spawn, backends, metrics, logs, terminate", async (t) => {
  const install = await installCli();
  const dir = await Deno.makeTempDir({ prefix: "jamsocket-cli-" });
  try {
    const services = `${dir}/services.json`;
    await Deno.writeTextFile(services, JSON.stringify({ "acme/echo-service": { image: "echo" } }));
    await using cluster = await startPlaneCluster({
      apiKeys: [API_KEY],
      clusterSecret: SECRET,
      controllerArgs: ["--services", services],
    });
    const cli = cliFor(install, {
      HOME: dir,
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      "JAMSOCKET_SERVER_API": cluster.controllerUrl,
    });

    await t.step("login --token saves the key for the service map's account", async () => {
      const out = await cli("login", "--token", API_KEY);
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /Logged in using API token as "acme"/);
      assert.match(
        out.stderr,
        new RegExp(`Using Jamsocket server override: ${cluster.controllerUrl}`),
      );
      const saved = JSON.parse(await Deno.readTextFile(`${dir}/.jamsocket/config.json`));
      assert.deepEqual(saved, { "api_token": { account: "acme", token: API_KEY } });
    });

    await t.step("service list, service info and images read the service map", async () => {
      const list = await cli("service", "list");
      assert.equal(list.code, 0, list.stderr);
      assert.deepEqual(list.stdout.trim().split("\n"), ["echo-service"]);

      const info = await cli("service", "info", "echo-service");
      assert.equal(info.code, 0, info.stderr);
      assert.match(info.stdout, /Service: echo-service/);
      assert.match(info.stdout, /account: acme/);
      assert.match(info.stdout, /created: .* ago/);
      assert.match(info.stdout, new RegExp(`cluster: ${cluster.cluster}`));
      assert.match(info.stdout, /image tag\/digest: echo/);

      const images = await cli("images", "echo-service");
      assert.equal(images.code, 0, images.stderr);
      assert.match(images.stdout, /Found the following images:/);
      assert.match(images.stdout, /\becho\b/);
    });

    await t.step("service create is refused naming the --services file", async () => {
      const out = await cli("service", "create", "fresh");
      assert.notEqual(out.code, 0);
      assert.match(
        out.stderr.replace(/\s+/g, " "),
        /409 - ServiceMapReadOnly: Cannot create service "acme\/fresh": services come from the controller's --services file/,
      );
      const list = await cli("service", "list");
      assert.deepEqual(list.stdout.trim().split("\n"), ["echo-service"]);
    });

    let id = "";
    await t.step("spawn starts a backend of the service", async () => {
      const out = await cli("spawn", "echo-service");
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /Backend spawned!/);
      assert.match(out.stdout, /backend status: +Loading/);
      id = /backend ID: +(\S+)/.exec(out.stdout)?.[1] ?? "";
      assert.ok(id, out.stdout);
      assert.match(
        out.stdout,
        new RegExp(`status url: +${cluster.controllerUrl}/backend/${id}/status`),
      );
      const ready = await cluster.api(`/pub/b/${id}/status?wait=ready`).then((r) => r.json());
      assert.equal(ready.status, "ready");
    });

    await t.step("backend list and backend info show it", async () => {
      const list = await cli("backend", "list");
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, /Found the following running backends:/);
      assert.match(list.stdout, new RegExp(`${id}\\s.*acme\\s+echo-service\\s+ready`));

      const info = await cli("backend", "info", id);
      assert.equal(info.code, 0, info.stderr);
      assert.match(info.stdout, new RegExp(`Info for backend: ${id}`));
      assert.match(info.stdout, /service: +echo-service/);
      assert.match(info.stdout, /account: +acme/);
      assert.match(info.stdout, new RegExp(`cluster: +${cluster.cluster}`));
      assert.match(info.stdout, /image digest: +echo/);
      const statuses = info.stdout.split("Statuses:")[1]!.trim().split("\n")
        .map((line) => line.split(/\s+/)[1]);
      assert.deepEqual(statuses, ["scheduled", "loading", "starting", "waiting", "ready"]);
    });

    await t.step("backend metrics prints the drone's samples", async () => {
      const text = await cli.stream(["backend", "metrics", id], /\d+\.\d%\s+[\d.]+ [KMG]iB/);
      assert.match(text, /cpu util\tmem used\tmem avail/);
      assert.doesNotMatch(text, /NaN/);
    });

    await t.step("logs streams the backend's output", async () => {
      const text = await cli.stream(["logs", id], /listening on \d+/);
      assert.match(text, /listening on \d+/);
    });

    await t.step("terminate stops it; a second terminate warns it already has", async () => {
      const out = await cli("terminate", id);
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, new RegExp(`Termination requested for backend: ${id}`));
      await waitFor(async () => {
        const state = await cluster.api(`/pub/b/${id}/status`).then((r) => r.json());
        return state.status === "terminated";
      }, { message: `backend ${id} terminated`, timeoutMs: 20_000 });
      const again = await cli("terminate", id);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stderr, new RegExp(`Backend ${id} has already terminated`));
      const list = await cli("backend", "list");
      assert.match(list.stdout, /No running backends found/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
