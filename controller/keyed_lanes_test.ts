import assert from "node:assert/strict";
import { KeyedLanes } from "./keyed_lanes.ts";

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

Deno.test("KeyedLanes runs one key's tasks in order and other keys' alongside", async () => {
  const lanes = new KeyedLanes(4);
  const log: string[] = [];
  const gate = deferred();
  const fail = (err: unknown) => assert.fail(String(err));
  await lanes.run("a", async () => {
    await gate.promise;
    log.push("a1");
  }, fail);
  await lanes.run("a", () => Promise.resolve(void log.push("a2")), fail);
  await lanes.run("b", () => Promise.resolve(void log.push("b1")), fail);
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(log, ["b1"], "b is not held up by a");
  gate.resolve();
  await lanes.idle();
  assert.deepEqual(log, ["b1", "a1", "a2"]);
  assert.equal(lanes.running, 0);
});

Deno.test("KeyedLanes admits at most `limit` tasks; run() waits for a free slot", async () => {
  const lanes = new KeyedLanes(2);
  const gates = [deferred(), deferred(), deferred()];
  let admitted = 0;
  const fail = (err: unknown) => assert.fail(String(err));
  const runs = gates.map((gate, i) =>
    lanes.run(`k${i}`, () => gate.promise, fail).then(() => void admitted++)
  );
  await Promise.race([runs[0], runs[1]]);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(admitted, 2);
  assert.equal(lanes.running, 2);
  gates[0]!.resolve();
  await runs[2];
  assert.equal(admitted, 3);
  gates[1]!.resolve();
  gates[2]!.resolve();
  await lanes.idle();
  assert.equal(lanes.running, 0);
});

Deno.test("KeyedLanes hands a failing task's error to onError and goes on with the key", async () => {
  const lanes = new KeyedLanes(1);
  const errors: unknown[] = [];
  let ran = false;
  await lanes.run("a", () => Promise.reject(new Error("boom")), (err) => errors.push(err));
  await lanes.run("a", () => Promise.resolve(void (ran = true)), (err) => errors.push(err));
  await lanes.idle();
  assert.equal(errors.length, 1);
  assert.equal(ran, true);
  assert.throws(() => new KeyedLanes(0), RangeError);
});
