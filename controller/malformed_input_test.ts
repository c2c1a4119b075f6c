/**
 * 10,000 malformed requests (targets.md §4), generated from a fixed seed, against every route that
 * reads a body or a name. Each must be answered 4xx with an ApiError body, never 5xx, and must
 * leave the database as it was.
 */
import assert from "node:assert/strict";
import { startTestController } from "./testing/test_controller.ts";
import { seedBackend, seedDrone, seedToken } from "./testing/seed.ts";
import { ApiError } from "../shared/api_error.ts";
import type { Database } from "./db/database.ts";

const SEED = 0x5eed_0001;
const CASES = 10_000;
const CLUSTER = "malformed.test:9090";
const ONE_MIB = 1024 * 1024;

/** mulberry32: small, fast, and the same sequence on every run. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
    bytes(n: number): Uint8Array<ArrayBuffer> {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = Math.floor(next() * 256);
      return out;
    },
  };
}
type Rng = ReturnType<typeof prng>;

interface Case {
  label: string;
  path: string;
  body?: BodyInit | undefined;
  contentType?: string | null;
}

const JSON_TYPE = "application/json";

/** A spawn config every field of which is valid; cases break exactly one field. */
function validSpawnConfig(): Record<string, unknown> {
  return {
    cluster: CLUSTER,
    pool: "",
    executable: { image: "ghcr.io/example/app:latest" },
    "lifetime_limit_seconds": 60,
    "max_idle_seconds": 30,
    "use_static_token": false,
    subdomain: "app",
  };
}

const INVALID_NAMES = [
  "",
  "UPPER",
  "has space",
  "under_score",
  "dot.ted",
  "slash/ed",
  "é",
  "💥",
  "a".repeat(46),
  "nul\u0000byte",
  "<script>",
  "../../etc/passwd",
];

/** For each ConnectRequest field, values of the wrong type or out of range. */
const WRONG_CONNECT_FIELDS: Record<string, unknown[]> = {
  key: [1, "key", true, [], {}, { name: 1 }, { name: "" }, { name: "k", namespace: 5 }, {
    name: "k",
    tag: [],
  }, { name: "x".repeat(300) }],
  "spawn_config": [1, "spawn", true, [], {}, { executable: null }],
  user: [1, true, {}, [], "u".repeat(1025)],
  auth: [null, 1, "auth", [], true],
};
const WRONG_SPAWN_FIELDS: Record<string, unknown[]> = {
  id: [1, true, [], {}, ...INVALID_NAMES],
  cluster: [1, true, [], {}, "", "bad host!", "host:99999", "-bad.example", "a".repeat(300)],
  pool: [null, 1, true, [], {}, "p".repeat(300)],
  executable: [null, 1, "image", [], true],
  "lifetime_limit_seconds": ["10", 1.5, 0, -1, 2 ** 31, true, {}, []],
  "max_idle_seconds": ["10", 2.5, 0, -5, 2 ** 40, false, {}, []],
  "use_static_token": ["true", 1, null, {}, []],
  subdomain: [1, true, [], "Bad_Sub", "-x", "x-", "", "a".repeat(64)],
};

function json(value: unknown): string {
  return JSON.stringify(value);
}

function deepNesting(rng: Rng): string {
  const depth = 1_000 + rng.int(50_000);
  const [open, close] = rng.pick([["[", "]"], ['{"a":', "}"]] as const);
  return open.repeat(depth) + "1" + close.repeat(depth);
}

function wrongTypeConnect(rng: Rng): string {
  if (rng.next() < 0.4) {
    const field = rng.pick(Object.keys(WRONG_CONNECT_FIELDS));
    const body: Record<string, unknown> = {
      key: { name: "k" },
      "spawn_config": validSpawnConfig(),
    };
    body[field] = rng.pick(WRONG_CONNECT_FIELDS[field]!);
    return json(body);
  }
  const field = rng.pick(Object.keys(WRONG_SPAWN_FIELDS));
  const spawn = validSpawnConfig();
  spawn[field] = rng.pick(WRONG_SPAWN_FIELDS[field]!);
  return json({ key: { name: "k" }, "spawn_config": spawn });
}

/** Revoke bodies that are never a valid `{backend_id, user}`. */
function wrongRevoke(rng: Rng): string {
  return json(rng.pick([
    {},
    { "backend_id": "abc" },
    { user: "ada" },
    { "backend_id": 1, user: "ada" },
    { "backend_id": "abc", user: 1 },
    { "backend_id": null, user: "ada" },
    { "backend_id": "abc", user: null },
    { "backend_id": ["abc"], user: "ada" },
    { "backend_id": rng.pick(INVALID_NAMES), user: "ada" },
    { "backend_id": "abc", user: "u".repeat(1025 + rng.int(5000)) },
  ]));
}

function hugeString(rng: Rng): string {
  const size = 100_000 + rng.int(800_000);
  return json(rng.pick([
    { user: "u".repeat(size) },
    { key: { name: "k".repeat(size) } },
    { "spawn_config": { ...validSpawnConfig(), cluster: "c".repeat(size) } },
    { "backend_id": "b".repeat(size), user: "ada" },
  ]));
}

function validJsonWrongShape(rng: Rng): string {
  return json(rng.pick([
    null,
    0,
    1.5,
    -1,
    true,
    false,
    "connect",
    [],
    [1, 2, 3],
    [{
      key: { name: "k" },
    }],
    { "spawn_config": null, user: 42 },
    { key: null, "spawn_config": "" },
  ]));
}

function truncated(rng: Rng): string {
  const full = json({
    key: { name: "k", namespace: "n" },
    "spawn_config": validSpawnConfig(),
    user: "ada",
  });
  return full.slice(0, 1 + rng.int(full.length - 2));
}

function invalidUtf8(rng: Rng): Uint8Array<ArrayBuffer> {
  const prefix = new TextEncoder().encode('{"user":"');
  const bad = rng.pick([[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80], [0x80]]);
  const suffix = new TextEncoder().encode('","key":{"name":"k"}}');
  return new Uint8Array([...prefix, ...bad, ...suffix]);
}

function oversized(rng: Rng): string {
  // Valid JSON so only the size can be the reason for the refusal.
  return json({ user: "x".repeat(ONE_MIB + rng.int(ONE_MIB)) });
}

type BodyMaker = (
  rng: Rng,
) => { body?: BodyInit | undefined; contentType?: string | null; label: string };

/** Bodies that no route may accept, whatever it does with a valid one. */
const ANY_ROUTE_BODIES: BodyMaker[] = [
  (rng) => ({ label: "truncated JSON", body: truncated(rng) }),
  (rng) => ({ label: "deep nesting", body: deepNesting(rng) }),
  (rng) => ({ label: "invalid UTF-8", body: invalidUtf8(rng) }),
  (rng) => ({ label: "random bytes", body: rng.bytes(1 + rng.int(4096)) }),
  (rng) => ({ label: "valid JSON of the wrong shape", body: validJsonWrongShape(rng) }),
  (rng) => ({
    label: "wrong Content-Type",
    body: json({ key: { name: "k" } }),
    contentType: rng.pick(["text/plain", "application/x-www-form-urlencoded", "", "json", null]),
  }),
  () => ({ label: "missing body", body: undefined }),
  () => ({ label: "missing body and Content-Type", body: undefined, contentType: null }),
];

function connectCase(rng: Rng): Case {
  const roll = rng.next();
  const made = roll < 0.45
    ? { label: "wrong type in a ConnectRequest field", body: wrongTypeConnect(rng) }
    : roll < 0.49
    ? { label: "huge string", body: hugeString(rng) }
    : roll < 0.51
    ? { label: "over 1 MiB", body: oversized(rng) }
    : rng.pick(ANY_ROUTE_BODIES)(rng);
  return { path: "/ctrl/connect", ...made };
}

function revokeCase(rng: Rng): Case {
  const roll = rng.next();
  const made = roll < 0.45
    ? { label: "invalid RevokeRequest", body: wrongRevoke(rng) }
    : roll < 0.48
    ? { label: "huge string", body: hugeString(rng) }
    : roll < 0.5
    ? { label: "over 1 MiB", body: oversized(rng) }
    : rng.pick(ANY_ROUTE_BODIES)(rng);
  return { path: rng.pick(["/ctrl/b/revoke", "/ctrl/revoke"]), ...made };
}

/** A path segment naming nothing that exists: invalid characters or an unknown valid name. */
function absentName(rng: Rng, prefix: string): string {
  const name = rng.next() < 0.5
    ? `${prefix}nosuch${rng.int(1_000_000)}`
    : rng.pick(INVALID_NAMES.filter((n) => n !== "" && !n.includes("/")));
  return encodeURIComponent(name);
}

/**
 * Terminate and drain ignore their bodies (plane-0.5.md §2.3, §2.5), so the target must not exist.
 */
function terminateOrDrainCase(rng: Rng): Case {
  const made = rng.next() < 0.1
    ? { label: "over 1 MiB", body: oversized(rng) }
    : rng.next() < 0.5
    ? { label: "wrong-type JSON", body: wrongTypeConnect(rng) }
    : rng.pick(ANY_ROUTE_BODIES)(rng);
  const path = rng.pick([
    () => `/ctrl/b/${absentName(rng, "")}/soft-terminate`,
    () => `/ctrl/b/${absentName(rng, "")}/hard-terminate`,
    () => `/ctrl/c/${encodeURIComponent(CLUSTER)}/d/${absentName(rng, "dr-")}/drain`,
    () => `/ctrl/c/${rng.pick(["bad%20host", "nosuch.example:1", "-x"])}/d/dr-x/drain`,
    () => `/ctrl/c/${encodeURIComponent(CLUSTER)}/d/${absentName(rng, "dr-")}/undrain`,
  ])();
  return { path, ...made, label: `${made.label} (${path.split("/").at(-1)})` };
}

function generateCases(count: number): Case[] {
  const rng = prng(SEED);
  const cases: Case[] = [];
  for (let i = 0; i < count; i++) {
    const roll = rng.next();
    cases.push(
      roll < 0.5 ? connectCase(rng) : roll < 0.75 ? revokeCase(rng) : terminateOrDrainCase(rng),
    );
  }
  // Every kind at least once, whatever the seed does.
  cases.push(
    { path: "/ctrl/connect", label: "over 1 MiB (fixed)", body: oversized(prng(1)) },
    { path: "/ctrl/b/revoke", label: "over 1 MiB (fixed)", body: oversized(prng(2)) },
    { path: "/ctrl/connect", label: "invalid UTF-8 (fixed)", body: invalidUtf8(prng(3)) },
  );
  return cases.slice(-count);
}

async function rowCounts(db: Database): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of ["backend", "token", "backend_action", "backend_key", "drone"]) {
    const { rows } = await db.query<{ n: number }>(`select count(*)::int as n from ${table}`);
    counts[table] = rows[0]!.n;
  }
  return counts;
}

Deno.test("malformed request bodies get a 4xx ApiError and change nothing", async () => {
  await using t = await startTestController({ defaultCluster: CLUSTER });
  // Rows that must survive untouched (and make "unchanged" mean something).
  const drone = await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
  const backend = await seedBackend(t.db, { droneId: drone.id, cluster: CLUSTER });
  await seedToken(t.db, { backendId: backend, token: "seeded-token", user: "ada" });
  const before = await rowCounts(t.db);

  const cases = generateCases(CASES);
  assert.equal(cases.length, CASES);
  const failures: string[] = [];
  const statuses = new Map<number, number>();
  for (const [i, c] of cases.entries()) {
    const headers = new Headers();
    const contentType = c.contentType === undefined ? JSON_TYPE : c.contentType;
    if (contentType !== null) headers.set("content-type", contentType);
    const request = new Request(`http://controller.test${c.path}`, {
      method: "POST",
      headers,
      ...(c.body === undefined ? {} : { body: c.body }),
    });
    const response = await t.controller.fetch(request, { remoteIp: "127.0.0.1" });
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    const text = await response.text();
    let body: unknown = null;
    try {
      body = JSON.parse(text);
    } catch {
      // Reported below.
    }
    const shape = ApiError.safeParse(body);
    const ok = response.status >= 400 && response.status < 500 && shape.success &&
      /^[a-z0-9]{14}$/.test(shape.data.id) && shape.data.message.length > 0;
    if (!ok) {
      failures.push(`#${i} ${c.label} → ${c.path}: ${response.status} ${text.slice(0, 160)}`);
    }
    // Terminate and drain ignore bodies, so only the body-reading routes must say 413.
    const readsBody = c.path === "/ctrl/connect" || c.path.endsWith("/revoke");
    if (readsBody && c.label.startsWith("over 1 MiB") && response.status !== 413) {
      failures.push(`#${i} ${c.label} → ${c.path}: expected 413, got ${response.status}`);
    }
  }

  assert.deepEqual(
    failures,
    [],
    `${failures.length}/${cases.length} malformed requests answered wrongly; statuses ${
      json(Object.fromEntries(statuses))
    }\n${failures.slice(0, 40).join("\n")}`,
  );
  assert.deepEqual(await rowCounts(t.db), before);
  // Still serving.
  const status = await t.controller.fetch(new Request("http://controller.test/ctrl/status"));
  assert.equal(status.status, 200);
  await status.body?.cancel();
});
