import assert from "node:assert/strict";
import { waitFor } from "../testing/wait_for.ts";

const MAIN = new URL("./main.ts", import.meta.url).pathname;
const PERMISSIONS = ["--allow-net", "--allow-env", "--allow-read", "--allow-write", "--allow-sys"];

async function plane(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, MAIN, ...args],
    env: { DATABASE_URL: "", PLANE_API_KEYS: "" },
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test("plane: unknown commands and flags exit 2 with one error line", async () => {
  for (
    const [args, pattern] of [
      [["frobnicate"], /^error: Unknown command "frobnicate"/],
      [["controller", "--frob"], /^error: Unknown flag --frob for "plane controller"/],
      [["controller", "--db", "x", "--port", "x"], /^error: Invalid --port: /],
      [["migrate"], /^error: A database is required/],
    ] as const
  ) {
    const result = await plane([...args]);
    assert.equal(result.code, 2, args.join(" "));
    assert.equal(result.stdout, "");
    assert.equal(result.stderr.trimEnd().split("\n").length, 1, result.stderr);
    assert.match(result.stderr, pattern);
  }
});

Deno.test("plane: version and help exit 0", async () => {
  const version = await plane(["version"]);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^plane 0\.5\.6 /);
  for (const args of [["help"], ["--help"], ["controller", "--help"], ["help", "migrate"]]) {
    const result = await plane(args);
    assert.equal(result.code, 0, args.join(" "));
    assert.match(result.stdout, /^Usage: plane /);
  }
});

Deno.test("plane controller: a fatal start-up error exits 1 with one line", async () => {
  const result = await plane(["controller", "--db", "postgres://postgres@127.0.0.1:1/none"]);
  assert.equal(result.code, 1);
  const errors = result.stderr.split("\n").filter((l) => l.startsWith("error: "));
  assert.equal(errors.length, 1, result.stderr);
});

Deno.test("plane controller --db DIR runs on embedded PGlite and exits 0 on SIGTERM", async () => {
  const dir = await Deno.makeTempDir({ prefix: "plane_cli_" });
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...PERMISSIONS, MAIN, "controller", "--db", `${dir}/db`, "--port", "0"],
      env: { DATABASE_URL: "", PLANE_API_KEYS: "" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let log = "";
    const decoder = new TextDecoder();
    const drained = child.stderr.pipeTo(
      new WritableStream({
        write: (chunk) => void (log += decoder.decode(chunk, { stream: true })),
      }),
    );
    try {
      const url = await waitFor(
        () => /"message":"Controller listening","url":"([^"]+)"/.exec(log)?.[1],
        { timeoutMs: 60_000, message: "the controller to listen" },
      );
      assert.match(log, /accepting unauthenticated requests/);
      const res = await fetch(`${url}/pub/health`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { status: "ok" });
    } finally {
      child.kill("SIGTERM");
      const status = await child.status;
      await drained;
      assert.equal(status.code, 0, log);
    }
    assert.match(log, /Controller stopped/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
