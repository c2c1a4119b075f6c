/**
 * A newcomer's first minutes, as a test: clone the repository, `deno task dev`, then
 * `deno task plane connect --image <example> --wait`, open the printed URL through the proxy
 * and exchange a WebSocket message with the example backend; Ctrl-C (SIGINT) must stop
 * everything and leave no backend process or container behind.
 */
import assert from "node:assert/strict";
import { waitFor } from "../testing/wait_for.ts";
import { freePort } from "../testing/free_port.ts";

const REPO = new URL("..", import.meta.url).pathname;

/**
 * README's Quickstart, as written (issue 12): its two `sh` blocks are the commands this test
 * runs, only with the documented port flags added so it cannot collide with a real dev cluster.
 */
function quickstartCommands(): { dev: string[]; connect: string[] } {
  const readme = Deno.readTextFileSync(`${REPO}/README.md`);
  const start = readme.indexOf("### Quickstart");
  const end = readme.indexOf("\n### ", start + 1);
  assert.ok(start >= 0 && end > start, "README has a Quickstart section");
  const blocks = [...readme.slice(start, end).matchAll(/```sh\n([\s\S]*?)```/g)]
    .map((m) => m[1]!.trim());
  assert.equal(blocks.length, 2, `Quickstart has two commands: ${JSON.stringify(blocks)}`);
  const words = blocks.map((block) => block.split(/\s+/));
  assert.deepEqual(words[0]!.slice(0, 2), ["deno", "task"], String(blocks[0]));
  assert.deepEqual(words[1]!.slice(0, 2), ["deno", "task"], String(blocks[1]));
  return { dev: words[0]!.slice(1), connect: words[1]!.slice(1) };
}

async function run(
  cwd: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

async function leftovers(backendId: string): Promise<string[]> {
  const found: string[] = [];
  const ps = await new Deno.Command("ps", { args: ["-eo", "args"], stdout: "piped" }).output();
  for (const line of new TextDecoder().decode(ps.stdout).split("\n")) {
    if (line.includes("examples/session_app/main.ts")) found.push(`process: ${line.trim()}`);
  }
  const docker = await new Deno.Command("docker", {
    args: ["ps", "-a", "--filter", `name=plane-${backendId}`, "--format", "{{.Names}} {{.Status}}"],
    stdout: "piped",
    stderr: "null",
  }).output().catch(() => null);
  const containers = docker ? new TextDecoder().decode(docker.stdout).trim() : "";
  if (containers) found.push(`container: ${containers}`);
  return found;
}

Deno.test("deno task dev on a fresh clone: connect --wait, page and WebSocket through the proxy, clean Ctrl-C", async () => {
  const dir = await Deno.makeTempDir();
  const clone = `${dir}/repo`;
  const cloned = await new Deno.Command("git", { args: ["clone", "-q", REPO, clone] }).output();
  assert.ok(cloned.success, "git clone of the repository");
  const port = freePort();
  const proxyPort = freePort();
  const readme = quickstartCommands();
  const dev = new Deno.Command(Deno.execPath(), {
    args: [...readme.dev, "--port", String(port), "--proxy-port", String(proxyPort)],
    cwd: clone,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const decoder = new TextDecoder();
  const reading = dev.stdout.pipeTo(
    new WritableStream({
      write: (chunk) => void (output += decoder.decode(chunk, { stream: true })),
    }),
  );
  const errors = dev.stderr.pipeTo(new WritableStream({ write: () => {} }));
  let backendId = "";
  try {
    await waitFor(() => output.includes("dev cluster is up"), {
      timeoutMs: 120_000,
      message: `dev to start; output so far:\n${output}`,
    });
    assert.match(output, new RegExp(`proxy\\s+http://localhost:${proxyPort}`));
    // The dashboard's URL is printed and answers (issue 15).
    const dashboardUrl = /dashboard\s+(http\S+)/.exec(output)?.[1];
    assert.equal(dashboardUrl, `http://127.0.0.1:${port}/dashboard`);
    const dashboard = await fetch(dashboardUrl);
    assert.equal(dashboard.status, 200);
    assert.match(await dashboard.text(), /<title>Plane dashboard<\/title>/);
    const printed = /(deno task plane connect .*)/.exec(output)?.[1];
    assert.ok(printed, `a connect command is printed:\n${output}`);
    // What dev prints is README's command, naming the controller since it is not on :8080.
    const words = printed.trim().split(/\s+/).slice(1);
    assert.deepEqual(words, [...readme.connect, "--controller", `http://127.0.0.1:${port}`]);
    const connect = await run(clone, words);
    assert.equal(connect.code, 0, connect.stderr + connect.stdout);
    const url = /URL:\s+(http\S+)/.exec(connect.stdout)?.[1];
    assert.ok(url, `the connect output names the URL:\n${connect.stdout}`);
    // README: "prints each status as it happens (...) and the URL, http://localhost:9090/<token>/".
    const statuses = [...connect.stdout.matchAll(/^\d{4}-\d\d-\d\d \S+Z {2}(\S+)/gm)].map((m) =>
      m[1]
    );
    assert.deepEqual(statuses, ["scheduled", "loading", "starting", "waiting", "ready"]);
    assert.match(url, new RegExp(`^http://localhost:${proxyPort}/[\\w-]+/$`));
    const page = await (await fetch(url)).text();
    backendId = /Backend <code id="backend">([a-z0-9]+)<\/code>/.exec(page)?.[1] ?? "";
    assert.ok(backendId, "the example page names its backend");
    const ws = new WebSocket(`${url.replace(/^http/, "ws")}ws`);
    const reply = await new Promise<string>((resolve, reject) => {
      ws.onopen = () => ws.send("hello through the proxy");
      ws.onmessage = (e) => resolve(String(e.data));
      ws.onerror = () => reject(new Error("WebSocket through the proxy failed"));
    });
    ws.close();
    await new Promise((r) => (ws.onclose = r));
    assert.deepEqual(JSON.parse(reply), {
      backend: backendId,
      echo: "hello through the proxy",
      messages: 1,
    });
  } finally {
    dev.kill("SIGINT");
    const status = await dev.status;
    await reading.catch(() => {});
    await errors.catch(() => {});
    assert.equal(status.code, 0, `dev exits cleanly on Ctrl-C; output:\n${output}`);
    assert.match(output, /Stopped\./);
    if (backendId) assert.deepEqual(await leftovers(backendId), [], "nothing left running");
    await Deno.remove(dir, { recursive: true });
  }
});
