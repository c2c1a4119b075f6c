import assert from "node:assert/strict";
import { parseProc, parsePs } from "./process_usage.ts";

Deno.test("parseProc() reads VmRSS and its parts from status, utime+stime from stat", () => {
  const status = "Name:\tx\nVmLck:\t       4 kB\nVmRSS:\t    2000 kB\nRssAnon:\t    1500 kB\n" +
    "RssFile:\t     500 kB\n";
  const stat = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 0 0 20 0";
  assert.deepEqual(parseProc(status, stat), {
    rss: 2_048_000,
    anon: 1_536_000,
    file: 512_000,
    locked: 4096,
    cpuTicks: 10,
  });
});

Deno.test("parsePs() reads ps's rss (KiB) and CPU seconds; empty output is a gone process", () => {
  assert.deepEqual(parsePs(" 4184     3\n"), {
    rss: 4_284_416,
    anon: 0,
    file: 0,
    locked: 0,
    cpuTicks: 300,
  });
  assert.equal(parsePs(""), null);
});

Deno.test("readProcessUsage() measures a live process under `deno task plane`'s permissions", async () => {
  // /proc/<pid>/* needs --allow-all in Deno; the plane task has --allow-read and --allow-run.
  const script = `import { readProcessUsage } from ${
    JSON.stringify(new URL("./process_usage.ts", import.meta.url).href)
  };\nconsole.log(JSON.stringify(await readProcessUsage(Deno.pid)));`;
  const narrow = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", "--allow-read", "--allow-run", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = narrow.stdin.getWriter();
  await writer.write(new TextEncoder().encode(script));
  await writer.close();
  const result = await narrow.output();
  const usage = JSON.parse(new TextDecoder().decode(result.stdout));
  assert.ok(usage !== null, new TextDecoder().decode(result.stderr));
  assert.ok(usage.rss > 0);
});
