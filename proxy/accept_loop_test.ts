import assert from "node:assert/strict";
import { acceptLoop, descriptorAlarm, isOutOfDescriptors } from "./accept_loop.ts";
import { createLogger } from "../shared/log.ts";

function emfile(): Error {
  return Object.assign(new Error("Too many open files (os error 24)"), { code: "EMFILE" });
}

Deno.test("acceptLoop() goes on after EMFILE, logs once per interval, ends when the listener closes", async () => {
  const lines: string[] = [];
  const log = createLogger("proxy", { write: (line) => lines.push(line) });
  const conn = {} as Deno.Conn;
  const script: (Deno.Conn | Error)[] = [
    emfile(),
    emfile(),
    emfile(),
    conn,
    new Deno.errors.BadResource("closed"),
  ];
  const accepted: Deno.Conn[] = [];
  await acceptLoop(
    {
      accept: () => {
        const next = script.shift()!;
        return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
      },
    },
    (c) => accepted.push(c),
    { log, pauseMs: 1, logIntervalMs: 60_000 },
  );
  assert.deepEqual(accepted, [conn]);
  assert.equal(script.length, 0);
  assert.equal(lines.length, 1);
  const line = JSON.parse(lines[0]!);
  assert.equal(line.level, "error");
  assert.match(line.message, /out of file descriptors; raise the limit/);
  assert.equal(line.failedAccepts, 1);
});

Deno.test("isOutOfDescriptors() knows EMFILE and ENFILE only", () => {
  assert.equal(isOutOfDescriptors(emfile()), true);
  assert.equal(isOutOfDescriptors(Object.assign(new Error("x"), { code: "ENFILE" })), true);
  assert.equal(isOutOfDescriptors(new Error("x")), false);
  assert.equal(isOutOfDescriptors(null), false);
});

Deno.test("descriptorAlarm() logs a backend connect only when out of descriptors, once per interval", () => {
  const lines: string[] = [];
  const alarm = descriptorAlarm(createLogger("proxy", { write: (line) => lines.push(line) }), {
    intervalMs: 60_000,
  });
  alarm("connect", Object.assign(new Error("refused"), { code: "ECONNREFUSED" }));
  assert.equal(lines.length, 0, "an ordinary 502 is no alarm");
  alarm("connect", emfile());
  alarm("connect", emfile());
  alarm("accept", emfile());
  assert.equal(lines.length, 2);
  const [connect, accept] = lines.map((l) => JSON.parse(l));
  assert.match(connect.message, /^Cannot connect to backends: out of file descriptors/);
  assert.equal(connect.failedConnects, 1);
  assert.match(accept.message, /^Cannot accept connections: out of file descriptors/);
});
