import assert from "node:assert/strict";
import {
  formatPidFile,
  leftoverVerdict,
  parsePidFile,
  parseProcStat,
  readProcStat,
} from "./process_identity.ts";

// A real line (proc(5)), with a command name holding a space and a parenthesis.
const STAT = "4242 (deno (main) x) S 4200 4242 4242 0 -1 4194560 5000 0 0 0 120 30 0 0 20 0 12 0 " +
  "987654 1193803776 20000 18446744073709551615 1 1 0 0 0 0 0 16781312 17410 0 0 0 17 1 0 0 0 0 0";

Deno.test("parseProcStat() reads pgid and start time after the command name", () => {
  assert.deepEqual(parseProcStat(STAT), { pgid: 4242, startTime: 987654, zombie: false });
  assert.deepEqual(parseProcStat(STAT + "\n"), { pgid: 4242, startTime: 987654, zombie: false });
  assert.equal(parseProcStat(STAT.replace(") S ", ") Z "))?.zombie, true);
});

Deno.test("parseProcStat() refuses what is not a stat line", () => {
  assert.equal(parseProcStat(""), null);
  assert.equal(parseProcStat("4242 (x) S 1 2"), null);
  assert.equal(parseProcStat("no parenthesis here"), null);
});

Deno.test("parsePidFile() reads the JSON identity and a bare legacy pid", () => {
  const identity = { pid: 10, pgid: 10, startTime: 55 };
  assert.deepEqual(parsePidFile(formatPidFile(identity)), identity);
  assert.deepEqual(parsePidFile("123\n"), { pid: 123, pgid: 123, startTime: null });
  assert.equal(parsePidFile(""), null);
  assert.equal(parsePidFile("1"), null, "never init");
  assert.equal(parsePidFile('{"pid": 1, "pgid": 1, "startTime": 3}'), null);
  assert.equal(parsePidFile('{"pid": "x"}'), null);
  assert.equal(parsePidFile("{"), null);
});

Deno.test("leftoverVerdict() kills only the process recorded, never a recycled pid", () => {
  const recorded = { pid: 10, pgid: 10, startTime: 55 };
  const stat = { pgid: 10, startTime: 55, zombie: false };
  assert.equal(leftoverVerdict(recorded, stat), "kill");
  // A zombie leader's pid cannot be reused yet, and its group may still hold live members.
  assert.equal(leftoverVerdict(recorded, { ...stat, zombie: true }), "kill");
  assert.equal(leftoverVerdict(recorded, { ...stat, startTime: 99 }), "gone", "pid recycled");
  assert.equal(leftoverVerdict(recorded, null), "gone");
  assert.equal(
    leftoverVerdict({ ...recorded, startTime: null }, stat),
    "unverifiable",
  );
  assert.equal(leftoverVerdict({ ...recorded, startTime: null }, null), "gone");
});

Deno.test("readProcStat() finds a running process and tells a missing one", async () => {
  const child = new Deno.Command("sleep", { args: ["30"], detached: true, stdout: "null" })
    .spawn();
  try {
    const stat = await readProcStat(child.pid);
    assert.equal(stat?.pgid, child.pid, "a detached child leads its own group");
    assert.ok(stat!.startTime > 0);
    assert.deepEqual(await readProcStat(child.pid), stat, "the start time is stable");
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
  assert.equal(await readProcStat(child.pid), null);
});
