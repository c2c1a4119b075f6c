import assert from "node:assert/strict";
import { KeyManager } from "./key_manager.ts";
import { FakeClock } from "./clock.ts";
import type { BackendName } from "../shared/names.ts";

const b = "b1" as BackendName;

function setup() {
  const clock = new FakeClock(0);
  const log: string[] = [];
  const keys = new KeyManager({
    clock,
    renew: (id, t) => (log.push(`renew ${id} @${t}`), true),
    terminate: (id, kind) => void log.push(`${kind} ${id} @${clock.now()}`),
  });
  return { clock, log, keys };
}

const deadlines = (base: number) => ({
  "renew_at": base + 30_000,
  "soft_terminate_at": base + 40_000,
  "hard_terminate_at": base + 50_000,
});

Deno.test("KeyManager renews at renew_at, soft-terminates at +40 s and hard-terminates at +50 s without an answer", () => {
  const { clock, log, keys } = setup();
  assert.equal(keys.register(b, deadlines(0)), true);
  clock.advance(29_999);
  assert.deepEqual(log, []);
  clock.advance(1);
  assert.deepEqual(log, ["renew b1 @30000"]);
  clock.advance(10_000);
  assert.deepEqual(log.at(-1), "soft b1 @40000");
  clock.advance(10_000);
  assert.deepEqual(log.at(-1), "hard b1 @50000");
  keys.close();
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("KeyManager restarts the cycle on renewal and ignores a repeated registration", () => {
  const { clock, log, keys } = setup();
  keys.register(b, deadlines(0));
  assert.equal(keys.register(b, deadlines(5_000)), false);
  clock.advance(30_000);
  keys.renewed(b, deadlines(30_000));
  clock.advance(25_000);
  assert.deepEqual(log, ["renew b1 @30000"]);
  clock.advance(5_000);
  assert.deepEqual(log, ["renew b1 @30000", "renew b1 @60000"]);
  keys.unregister(b);
  clock.advance(60_000);
  assert.equal(log.length, 2, "nothing fires after unregister");
});

Deno.test("KeyManager renews at once for a deadline already past (a late Spawn)", () => {
  const { clock, log, keys } = setup();
  clock.advance(35_000);
  keys.register(b, deadlines(0));
  clock.advance(0);
  assert.deepEqual(log, ["renew b1 @35000"]);
  keys.close();
});
