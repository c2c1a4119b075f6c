import assert from "node:assert/strict";
import { TunnelRegistry } from "./tunnel_registry.ts";

Deno.test("TunnelRegistry.revoke() closes every tunnel of the token, and only those", () => {
  const registry = new TunnelRegistry();
  const closed: string[] = [];
  registry.open("tok", () => closed.push("a"));
  registry.open("tok", () => closed.push("b"));
  registry.open("other", () => closed.push("c"));
  assert.equal(registry.count("tok"), 2);
  assert.equal(registry.revoke("tok"), 2);
  assert.deepEqual(closed.sort(), ["a", "b"]);
  assert.equal(registry.count("tok"), 0);
  assert.equal(registry.count("other"), 1);
  assert.equal(registry.revoke("tok"), 0);
  assert.deepEqual(closed.sort(), ["a", "b"]);
});

Deno.test("TunnelRegistry forgets a tunnel once it closed by itself", () => {
  const registry = new TunnelRegistry();
  let closes = 0;
  const release = registry.open("tok", () => closes++);
  release();
  release();
  assert.equal(registry.count("tok"), 0);
  assert.equal(registry.revoke("tok"), 0);
  assert.equal(closes, 0);
});

Deno.test("TunnelRegistry closes a tunnel opened after its token's revocation, later", () => {
  const deferred: (() => void)[] = [];
  const registry = new TunnelRegistry({ defer: (fn) => deferred.push(fn) });
  registry.revoke("tok");
  let closed = false;
  registry.open("tok", () => (closed = true))();
  // Not while the engine is still opening it.
  assert.equal(closed, false);
  assert.equal(deferred.length, 1);
  deferred[0]!();
  assert.equal(closed, true);
  assert.equal(registry.count("tok"), 0);
});

Deno.test("TunnelRegistry remembers at most revokedCapacity revoked tokens", () => {
  const deferred: (() => void)[] = [];
  const registry = new TunnelRegistry({ revokedCapacity: 2, defer: (fn) => deferred.push(fn) });
  registry.revoke("t1");
  registry.revoke("t2");
  registry.revoke("t3");
  registry.open("t1", () => {});
  assert.equal(registry.count("t1"), 1, "t1 was forgotten");
  registry.open("t3", () => {});
  assert.equal(deferred.length, 1, "t3 is still remembered");
});

Deno.test("TunnelRegistry forgets revoked tokens after 5 minutes: 20,000 revocations keep only the last 5 minutes' worth", () => {
  let now = 0;
  const deferred: (() => void)[] = [];
  const registry = new TunnelRegistry({ now: () => now, defer: (fn) => deferred.push(fn) });
  // One revocation every 100 ms (a busy cluster): 3,000 fall within 5 minutes.
  for (let i = 0; i < 20_000; i++, now += 100) registry.revoke(`t${i}`);
  assert.ok(registry.revokedCount <= 3_001, `remembered ${registry.revokedCount}`);
  // A tunnel of a token revoked within the window is still closed at once.
  registry.open("t19999", () => {});
  assert.equal(deferred.length, 1);
  // One revoked just over 5 minutes ago may open (its backend has long ended).
  registry.open("t16000", () => {});
  assert.equal(deferred.length, 1);
});
