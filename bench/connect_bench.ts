/**
 * `deno task bench`: the connect targets of targets.md §3, measured as ratios in one run.
 *
 * The controller runs in-process and requests go straight to `controller.fetch(new Request)`
 * (no HTTP server), so what is measured is the controller's own cost — routing, body parsing,
 * zod, the connect algorithm, JSON answer — on top of its SQL. Each baseline runs the very same
 * statements of `db/connect_queries.ts` through `npm:pg` (a second pool of the same size on the same
 * database) with nothing else around them. Baseline and controller rounds alternate, and
 * backends are marked terminated between rounds so every round starts from the same load.
 *
 * Bounded: about 35 s in all. A miss is printed, never an exit code: this is a measurement.
 */
import { createTestDatabase } from "../controller/db/test_database.ts";
import { createController } from "../controller/mod.ts";
import { seedDrone } from "../controller/testing/seed.ts";
import { createConnectStore, type NewToken } from "../controller/db/connect_queries.ts";
import { ControllerConfig } from "../controller/config.ts";
import type { Database } from "../controller/db/database.ts";
import { createLogger } from "../shared/log.ts";
import { randomActionName, randomBackendName } from "../shared/names.ts";
import { randomToken } from "../shared/tokens.ts";
import { pickDrone } from "../controller/scheduler.ts";

const CLUSTER = "bench.test";
const CONCURRENCY = 8;
const ROUNDS = 3;
const LATENCY_ROUNDS = 4;
const THROUGHPUT_ROUND_MS = 1_500;
const LATENCY_ROUND_MS = 800;
const EXECUTABLE = { image: "ghcr.io/jamsocket/demo-image-drop-four" };
const EXISTING_KEY = "bench-existing";

function print(line = ""): void {
  // deno-lint-ignore no-console
  console.log(line);
}

/** Runs `op` from `clients` concurrent loops for `ms`; returns completed operations per second. */
async function throughput(clients: number, ms: number, op: () => Promise<void>): Promise<number> {
  const end = performance.now() + ms;
  let done = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: clients }, async () => {
    while (performance.now() < end) {
      await op();
      done++;
    }
  }));
  return done / ((performance.now() - start) / 1000);
}

/** Runs `op` sequentially for `ms`, recording each duration in `samples` (ms). */
async function latencies(ms: number, op: () => Promise<void>, samples: number[]): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const t0 = performance.now();
    await op();
    samples.push(performance.now() - t0);
  }
}

function ms(value: number): string {
  return `${value.toFixed(3)} ms`;
}

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function main() {
  const benchStart = performance.now();
  const database = await createTestDatabase();
  const log = createLogger("bench", { level: "error" });
  const controller = await createController({
    db: database.db,
    log,
    config: { db: database.url, controllerUrl: "http://bench.local", logLevel: "error" },
  });
  const baselineDb: Database = database.open();
  const config = ControllerConfig.parse({ db: database.url });
  const store = createConnectStore(baselineDb);
  let failures = 0;

  async function post(body: string): Promise<void> {
    const response = await controller.fetch(
      new Request("http://bench.local/ctrl/connect", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      }),
    );
    await response.text();
    if (response.status !== 200) failures++;
  }

  const existingBody = JSON.stringify({
    key: { name: EXISTING_KEY },
    "spawn_config": { cluster: CLUSTER, executable: EXECUTABLE },
  });
  let keySeq = 0;
  const newBody = () =>
    `{"key":{"name":"bench-new-${keySeq++}"},"spawn_config":{"cluster":"${CLUSTER}",` +
    `"executable":${JSON.stringify(EXECUTABLE)}}}`;

  function newToken(): NewToken {
    return {
      token: randomToken(),
      secretToken: randomToken(),
      user: null,
      auth: {},
      lifetimeMs: config.tokenLifetimeMs,
    };
  }
  const existingKey = { name: EXISTING_KEY, namespace: "", tag: "" };
  // The existing-key path: one statement (db/connect_queries.ts EXISTING_KEY_SQL).
  async function sqlExisting(): Promise<void> {
    const found = await store.lookupKey(existingKey, newToken());
    if (found.kind !== "live") failures++;
  }
  // The new-backend path: key lookup, candidate drones, spawn transaction.
  async function sqlNew(): Promise<void> {
    const key = { name: `bench-new-${keySeq++}`, namespace: "", tag: "" };
    const token = newToken();
    await store.lookupKey(key, token);
    const candidates = await store.listDroneCandidates({
      cluster: CLUSTER,
      pool: "",
      unhealthyMs: config.unhealthyMs,
    });
    const picked = pickDrone(candidates, { bestOf: config.bestOf });
    if (!picked.ok) {
      failures++;
      return;
    }
    const result = await store.spawnBackend({
      backendId: randomBackendName(),
      actionId: randomActionName(),
      cluster: CLUSTER,
      pool: "",
      drone: picked.drone,
      key,
      executable: EXECUTABLE,
      lifetimeLimitSeconds: null,
      maxIdleSeconds: null,
      staticToken: null,
      subdomain: null,
      token,
      timings: config,
    });
    if (!result.ok) failures++;
  }
  async function resetLoad(): Promise<void> {
    await database.db.query(
      `update backend set last_status = 'terminated', last_status_number = 70
       where last_status != 'terminated' and id not in (select id from backend_key where key_name = $1)`,
      [EXISTING_KEY],
    );
  }

  async function compareThroughput(system: () => Promise<void>, baseline: () => Promise<void>) {
    let sys = 0;
    let base = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which side goes first so drift over time does not favour one.
      const order = round % 2 === 0 ? ["base", "sys"] : ["sys", "base"];
      for (const side of order) {
        await resetLoad();
        if (side === "base") base += await throughput(CONCURRENCY, THROUGHPUT_ROUND_MS, baseline);
        else sys += await throughput(CONCURRENCY, THROUGHPUT_ROUND_MS, system);
      }
    }
    return { sys: sys / ROUNDS, base: base / ROUNDS };
  }

  try {
    await seedDrone(database.db, { controller: controller.name, cluster: CLUSTER });
    await post(existingBody);

    // Warm up both paths (JIT, pool connections, plan caches).
    await throughput(CONCURRENCY, 500, () => post(existingBody));
    await throughput(CONCURRENCY, 500, sqlExisting);
    await throughput(CONCURRENCY, 500, () => post(newBody()));
    await throughput(CONCURRENCY, 500, sqlNew);
    await resetLoad();

    const existing = await compareThroughput(() => post(existingBody), sqlExisting);
    const spawned = await compareThroughput(() => post(newBody()), sqlNew);

    const connectSamples: number[] = [];
    const sqlSamples: number[] = [];
    const selectSamples: number[] = [];
    for (let round = 0; round < LATENCY_ROUNDS; round++) {
      await latencies(LATENCY_ROUND_MS, async () => {
        await baselineDb.query("select 1");
      }, selectSamples);
      await latencies(LATENCY_ROUND_MS, sqlExisting, sqlSamples);
      await latencies(LATENCY_ROUND_MS, () => post(existingBody), connectSamples);
    }
    const connectP99 = percentile(connectSamples, 99);
    const sqlP99 = percentile(sqlSamples, 99);
    const selectP99 = percentile(selectSamples, 99);

    const rows: [string, string, string, number, string, boolean | null][] = [
      [
        "Connect, existing key: throughput",
        `${existing.sys.toFixed(0)} req/s`,
        `${existing.base.toFixed(0)} stmt/s`,
        existing.sys / existing.base,
        "(info, no target)",
        null,
      ],
      [
        "Connect, new backend: throughput",
        `${spawned.sys.toFixed(0)} req/s`,
        `${spawned.base.toFixed(0)} seq/s`,
        spawned.sys / spawned.base,
        ">= 0.8x same SQL alone",
        spawned.sys / spawned.base >= 0.8,
      ],
      [
        "Connect, existing key: p99 latency",
        `${connectP99.toFixed(3)} ms`,
        `${selectP99.toFixed(3)} ms select 1`,
        connectP99 / selectP99,
        "<= 2x select 1 p99",
        connectP99 / selectP99 <= 2,
      ],
      [
        "Existing-key SQL alone: p99 latency",
        `${sqlP99.toFixed(3)} ms`,
        `${selectP99.toFixed(3)} ms select 1`,
        sqlP99 / selectP99,
        "(info: the database's share)",
        null,
      ],
    ];

    print();
    print(
      `Connect benchmark — in-process controller.fetch(new Request(...)), no HTTP server; ` +
        `baselines: the same db/connect_queries.ts SQL through npm:pg on the same database`,
    );
    print(
      `${CONCURRENCY} concurrent clients for throughput, ${ROUNDS} alternating rounds of ` +
        `${THROUGHPUT_ROUND_MS} ms per side; latency: sequential, ${LATENCY_ROUNDS} rounds of ` +
        `${LATENCY_ROUND_MS} ms per side; p50: connect ${ms(percentile(connectSamples, 50))}, ` +
        `SQL alone ${ms(percentile(sqlSamples, 50))}, select 1 ${
          ms(percentile(selectSamples, 50))
        }`,
    );
    print();
    const header = ["Measure", "Controller", "Baseline", "Ratio", "Target", "Result"];
    const table = rows.map(([name, sys, base, ratio, target, pass]) => [
      name,
      sys,
      base,
      `${ratio.toFixed(2)}x`,
      target,
      pass === null ? "-" : pass ? "PASS" : "MISS",
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
    const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ");
    print(line(header));
    print(widths.map((w) => "-".repeat(w)).join("-|-"));
    for (const r of table) print(line(r));
    print();
    print(
      `Failed requests/statements: ${failures}. Total time ` +
        `${((performance.now() - benchStart) / 1000).toFixed(1)} s.`,
    );
  } finally {
    await controller.close();
    await database[Symbol.asyncDispose]();
  }
}

if (import.meta.main) await main();
