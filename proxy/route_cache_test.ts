import assert from "node:assert/strict";
import { RouteCache } from "./route_cache.ts";
import type { RouteResult } from "./request.ts";
import type { RouteInfo } from "../shared/protocol.ts";
import type { BackendName } from "../shared/names.ts";

function route(backend: string, token = "t"): RouteInfo {
  return {
    "backend_id": backend as BackendName,
    address: "127.0.0.1:1",
    "secret_token": `secret-${token}`,
    cluster: "plane.test",
    user: null,
    "user_data": null,
    subdomain: null,
  };
}

/** A cache whose requests are recorded; `up` says whether the link accepts them. */
/** The route of a "found" answer (its prepared part is `prepared_route_test.ts`'s), or the kind. */
function found(result: RouteResult | Promise<RouteResult>): RouteInfo | string {
  assert.ok(!(result instanceof Promise), "answered synchronously");
  return result.kind === "found" ? result.route : result.kind;
}

function harness(options: ConstructorParameters<typeof RouteCache>[1] = {}) {
  const sent: string[] = [];
  const link = { up: true };
  const cache = new RouteCache((token) => {
    if (!link.up) return false;
    sent.push(token);
    return true;
  }, options);
  return { cache, sent, link };
}

Deno.test("RouteCache.lookup() answers gone without asking before the first connection", () => {
  const { cache, sent } = harness();
  assert.deepEqual(cache.lookup("tok"), { kind: "gone" });
  assert.deepEqual(sent, []);
  assert.equal(cache.size, 0);
});

Deno.test("RouteCache shares one request among concurrent lookups of a token", async () => {
  const { cache, sent } = harness();
  cache.connected();
  const a = cache.lookup("tok");
  const b = cache.lookup("tok");
  assert.ok(a instanceof Promise && b instanceof Promise);
  assert.deepEqual(sent, ["tok"]);
  cache.answer("tok", route("b1"));
  assert.deepEqual(found(await a), route("b1"));
  assert.deepEqual(found(await b), route("b1"));
  // Cached now: synchronous, no second request.
  assert.deepEqual(found(cache.lookup("tok")), route("b1"));
  assert.deepEqual(sent, ["tok"]);
});

Deno.test("RouteCache caches negative answers (plane-0.5.md §7.3)", async () => {
  const { cache, sent } = harness();
  cache.connected();
  const pending = cache.lookup("nope");
  cache.answer("nope", null);
  assert.deepEqual(await pending, { kind: "gone" });
  assert.deepEqual(cache.lookup("nope"), { kind: "gone" });
  assert.deepEqual(sent, ["nope"]);
});

Deno.test("RouteCache times a pending lookup out and forgets the token", async () => {
  const { cache } = harness({ waitMs: 20 });
  cache.connected();
  assert.deepEqual(await cache.lookup("slow"), { kind: "timeout" });
  assert.deepEqual(cache.pendingTokens(), []);
  // A late answer is still cached for the next request.
  cache.answer("slow", route("b1"));
  assert.deepEqual(found(cache.lookup("slow")), route("b1"));
});

Deno.test("RouteCache re-asks every pending token on reconnect (decisions.md §2.10)", async () => {
  const { cache, sent, link } = harness();
  cache.connected();
  link.up = false;
  const a = cache.lookup("a");
  const b = cache.lookup("b");
  assert.deepEqual(sent, []);
  link.up = true;
  cache.connected();
  assert.deepEqual(sent.sort(), ["a", "b"]);
  cache.answer("a", route("b1"));
  cache.answer("b", null);
  assert.deepEqual(found(await a), route("b1"));
  assert.deepEqual(await b, { kind: "gone" });
});

Deno.test("RouteCache.backendRemoved() turns every token of the backend into gone", () => {
  const { cache } = harness();
  cache.connected();
  cache.answer("t1", route("b1", "t1"));
  cache.answer("t2", route("b1", "t2"));
  cache.answer("t3", route("b2", "t3"));
  cache.backendRemoved("b1");
  assert.deepEqual(cache.lookup("t1"), { kind: "gone" });
  assert.deepEqual(cache.lookup("t2"), { kind: "gone" });
  assert.equal((cache.lookup("t3") as { kind: string }).kind, "found");
});

Deno.test("RouteCache.tokenRevoked() makes a cached or pending token gone", async () => {
  const { cache, sent } = harness();
  cache.connected();
  cache.answer("cached", route("b1"));
  cache.tokenRevoked("cached");
  assert.deepEqual(cache.lookup("cached"), { kind: "gone" });
  const waiting = cache.lookup("pending");
  cache.tokenRevoked("pending");
  assert.deepEqual(await waiting, { kind: "gone" });
  assert.deepEqual(cache.lookup("pending"), { kind: "gone" });
  assert.deepEqual(sent, ["pending"]);
});

Deno.test("RouteCache ignores a late answer for a revoked token or a removed backend (issue 10)", async () => {
  // The controller may have read the route just before the revocation or the terminate and
  // send it after its push: the answer must not bring the route back.
  let now = 0;
  const { cache } = harness({ now: () => now });
  cache.connected();
  const revoked = cache.lookup("revoked");
  cache.tokenRevoked("revoked");
  assert.deepEqual(await revoked, { kind: "gone" });
  cache.answer("revoked", route("b1", "revoked"));
  assert.deepEqual(cache.lookup("revoked"), { kind: "gone" });

  cache.backendRemoved("b2");
  const late = cache.lookup("late");
  cache.answer("late", route("b2", "late"));
  assert.deepEqual(await late, { kind: "gone" });
  assert.deepEqual(cache.lookup("late"), { kind: "gone" });
  // A backend id reused long after (the cleanup deleted the old row) routes again.
  now += 10 * 60_000;
  cache.answer("reused", route("b2", "reused"));
  assert.equal((cache.lookup("reused") as { kind: string }).kind, "found");
});

Deno.test("RouteCache evicts the least recently used token past its capacity", () => {
  const { cache, sent } = harness({ capacity: 2 });
  cache.connected();
  cache.answer("a", route("b1"));
  cache.answer("b", route("b2"));
  cache.lookup("a"); // a is now the most recent
  cache.answer("c", route("b3"));
  assert.equal(cache.size, 2);
  assert.equal(cache.peek("b"), undefined);
  assert.ok(cache.peek("a"));
  assert.ok(cache.peek("c"));
  void cache.lookup("b");
  assert.deepEqual(sent, ["b"]);
  cache.close();
});

Deno.test("RouteCache counts hits, misses and evictions for the proxy's metrics", () => {
  const { cache } = harness({ capacity: 1 });
  cache.connected();
  void cache.lookup("a");
  cache.answer("a", route("b1"));
  cache.lookup("a");
  cache.lookup("a");
  cache.answer("b", route("b2"));
  assert.deepEqual(cache.counters, { hits: 2, misses: 1, evictions: 1 });
  cache.close();
});

Deno.test("RouteCache re-asks a stale cached route in the background, serving the cache", () => {
  let now = 0;
  const { cache, sent } = harness({ revalidateMs: 1_000, now: () => now });
  cache.connected();
  cache.answer("tok", route("b1"));
  now = 999;
  assert.equal((cache.lookup("tok") as { kind: string }).kind, "found");
  assert.deepEqual(sent, []);
  now = 1_000;
  assert.equal((cache.lookup("tok") as { kind: string }).kind, "found");
  assert.equal((cache.lookup("tok") as { kind: string }).kind, "found");
  assert.deepEqual(sent, ["tok"]);
  // The controller refuses the expired token: the next request is gone.
  cache.answer("tok", null);
  assert.deepEqual(cache.lookup("tok"), { kind: "gone" });
});

Deno.test("RouteCache.close() ends pending waits", async () => {
  const { cache } = harness();
  cache.connected();
  const waiting = cache.lookup("tok");
  cache.close();
  assert.deepEqual(await waiting, { kind: "timeout" });
  assert.deepEqual(cache.lookup("other"), { kind: "gone" });
});

Deno.test("RouteCache remembers revoked tokens and removed backends for 5 minutes only: 20,000 terminated backends keep the last 5 minutes' worth", () => {
  let now = 0;
  const { cache } = harness({ now: () => now });
  cache.connected();
  // One backend ended every 100 ms (a busy cluster): 3,000 fall within 5 minutes, so at most
  // that many tokens and backends are held, where the capacity alone kept 10,000 of each.
  for (let i = 0; i < 20_000; i++, now += 100) {
    cache.answer(`t${i}`, route(`b${i}`, `t${i}`));
    cache.backendRemoved(`b${i}`);
    cache.tokenRevoked(`t${i}`);
  }
  assert.ok(cache.remembered <= 2 * 3_001, `remembered ${cache.remembered}`);
  assert.ok(cache.size <= 1_000);
  // Within the window a late answer is still refused.
  cache.answer("t19990", route("b19990", "t19990"));
  assert.deepEqual(cache.lookup("t19990"), { kind: "gone" });
});
