/**
 * Issue 12, item 4: README's instructions run as written. "Running the parts yourself" is
 * executed command by command (only ports, paths under `.plane/` and the controller URL are
 * changed, through documented flags and `PLANE_CONTROLLER_URL`), and the client snippet of
 * "Client library for app servers" runs from a project outside this repository.
 */
import assert from "node:assert/strict";
import { defaultImages, startPlaneCluster } from "./plane_process.ts";
import { backendProcesses } from "./env.ts";
import { freePort } from "../testing/free_port.ts";
import { waitFor } from "../testing/wait_for.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const README = Deno.readTextFileSync(`${ROOT}/README.md`);
const PLANE_TASK: string = JSON.parse(Deno.readTextFileSync(`${ROOT}/deno.json`)).tasks.plane;

/** The text between a heading and the next heading of the same or a higher level. */
function section(heading: string): string {
  const lines = README.split("\n");
  const start = lines.indexOf(heading);
  assert.ok(start >= 0, `README has "${heading}"`);
  const level = heading.split(" ")[0]!.length;
  let fenced = false;
  let end = start + 1;
  for (; end < lines.length; end++) {
    const line = lines[end]!;
    if (line.startsWith("```")) fenced = !fenced;
    const hashes = /^(#+) /.exec(line)?.[1];
    if (!fenced && hashes && hashes.length <= level) break;
  }
  return lines.slice(start + 1, end).join("\n");
}

/** The fenced code blocks of `text` in a language. */
function blocks(text: string, lang: string): string[] {
  return [...text.matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]!);
}

/** Runs `sh -c command` in the repository; long-running ones are returned still running. */
function shell(command: string, env: Record<string, string> = {}) {
  return new Deno.Command("sh", {
    args: ["-c", command],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

Deno.test("README: Running the parts yourself works as written", async () => {
  const dir = await Deno.makeTempDir({ prefix: "plane-readme-" });
  const controllerPort = freePort();
  const proxyPort = freePort();
  const controllerUrl = `http://127.0.0.1:${controllerPort}`;
  const cluster = `localhost:${proxyPort}`;
  // The commands as README has them, one per line, comments dropped.
  const commands = blocks(section("### Running the parts yourself"), "sh")
    .flatMap((block) => block.split("\n"))
    .map((line) => line.replace(/\s+#.*$/, "").trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  assert.ok(
    commands.some((c) => c.includes("plane controller") && c.includes("--default-cluster")),
  );
  const running: Deno.ChildProcess[] = [];
  try {
    for (const written of commands) {
      // Ports and the data directory through documented flags; `deno task plane` spelled out
      // (the task's own command from deno.json) so the test can stop what it started.
      let command = written
        .replaceAll("http://127.0.0.1:8080", controllerUrl)
        .replaceAll("localhost:9090", cluster)
        .replaceAll(".plane/", `${dir}/`)
        .replace("mkdir -p .plane ", `mkdir -p ${dir} `)
        .replace(/^deno task plane /, `exec ${PLANE_TASK.replace(/^deno run /, "deno run -q ")} `);
      if (/ cli\/main\.ts controller /.test(command)) command += ` --port ${controllerPort}`;
      if (/ cli\/main\.ts proxy /.test(command)) command += ` --http-port ${proxyPort}`;
      if (/ cli\/main\.ts drone /.test(command)) command += ` --db ${dir}/drone-state.db`;
      const longRunning = / cli\/main\.ts (controller|drone|proxy) /.test(command);
      if (longRunning) {
        running.push(shell(command).spawn());
        if (command.includes(" controller ")) {
          await waitFor(
            async () =>
              (await fetch(`${controllerUrl}/ctrl/status`).catch(() => null))?.ok === true,
            { message: "controller up", timeoutMs: 60_000 },
          );
        } else if (command.includes(" drone ")) {
          await waitFor(async () => {
            const state = await fetch(`${controllerUrl}/ctrl/c/${cluster}/state`);
            return (await state.json()).drones?.some((d: { ready: boolean }) => d.ready) === true;
          }, { message: "drone registered", timeoutMs: 30_000 });
        } else {
          await waitFor(
            async () => (await fetch(`http://${cluster}/ready`).catch(() => null))?.ok,
            {
              message: "proxy up",
              timeoutMs: 30_000,
            },
          );
        }
        continue;
      }
      const out = await shell(command, { PLANE_CONTROLLER_URL: controllerUrl }).output();
      const stdout = new TextDecoder().decode(out.stdout);
      assert.equal(out.code, 0, `${written}\n${new TextDecoder().decode(out.stderr)}`);
      if (command.includes(" connect ")) {
        assert.match(stdout, /Z {2}ready$/m, stdout);
        // The URL it prints answers through the proxy; the token is removed from the path.
        const url = /^URL: +(\S+)$/m.exec(stdout)![1]!;
        const answer = await (await fetch(`${url}hello`)).json();
        assert.equal(answer.path, "/hello");
      }
    }
    assert.ok(commands.some((c) => c.includes("plane connect")), "README starts a backend");
  } finally {
    // Backends outlive a stopped drone (as in Plane): end them first, or every run of this test
    // leaves an echo backend running.
    const ids = await stopBackends(controllerUrl, cluster);
    for (const child of running) {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.output();
    }
    for (const pid of await backendProcesses(new Set(ids))) Deno.kill(pid, "SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});

/** Hard-terminates every backend of `cluster` and waits until they are; their ids. */
async function stopBackends(controllerUrl: string, cluster: string): Promise<string[]> {
  const listed = await fetch(`${controllerUrl}/ctrl/c/${cluster}/backends`).catch(() => null);
  if (!listed?.ok) {
    await listed?.body?.cancel();
    return [];
  }
  const ids = ((await listed.json()).backends as { id: string }[]).map((b) => b.id);
  for (const id of ids) {
    await (await fetch(`${controllerUrl}/ctrl/b/${id}/hard-terminate`, { method: "POST" })).body
      ?.cancel();
  }
  await waitFor(async () => {
    for (const id of ids) {
      const status = await (await fetch(`${controllerUrl}/pub/b/${id}/status`)).json();
      if (status.status !== "terminated") return false;
    }
    return true;
  }, { message: "the README's backends terminated", timeoutMs: 20_000 }).catch(() => {});
  return ids;
}

Deno.test("README: the client snippet runs as written from another project", async () => {
  const clientSection = section("## Client library for app servers");
  const [config] = blocks(clientSection, "json");
  const [snippet] = blocks(clientSection, "ts");
  assert.ok(config && snippet);
  // Another project beside a clone called `plane`, as the README's `../plane` assumes.
  const dir = await Deno.makeTempDir({ prefix: "plane-client-" });
  await Deno.symlink(ROOT, `${dir}/plane`);
  await Deno.mkdir(`${dir}/app`);
  await Deno.writeTextFile(`${dir}/app/deno.json`, config);
  await Deno.writeTextFile(`${dir}/app/main.ts`, snippet);
  // The snippet's image, mapped the way `deno task dev` maps it, to the echo backend here.
  await using cluster = await startPlaneCluster({
    images: { ...defaultImages(), "session-app": defaultImages().echo },
  });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-q", "--allow-net", "--allow-env", "main.ts"],
      cwd: `${dir}/app`,
      env: { NO_COLOR: "1", PLANE_CONTROLLER_URL: cluster.controllerUrl },
      stdin: "null",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.match(stdout, /^\S+ is ready at http:\/\/localhost:\d+\/\S+\/$/m);
    assert.match(stdout, /^terminated$/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
