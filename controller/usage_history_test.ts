import assert from "node:assert/strict";
import { FORGET_AFTER_MS, toUsageSample, UsageHistory } from "./usage_history.ts";
import type { BackendMetricsMessage } from "../shared/protocol.ts";
import type { BackendName } from "../shared/names.ts";

function sample(backend: string, more: Partial<BackendMetricsMessage> = {}): BackendMetricsMessage {
  return {
    "backend_id": backend as BackendName,
    "mem_used": 1000,
    "mem_total": 2000,
    "mem_active": 0,
    "mem_inactive": 0,
    "mem_unevictable": 0,
    "mem_limit": 0,
    "cpu_used": 250,
    "sys_cpu": 1000,
    ...more,
  };
}

Deno.test("toUsageSample: CPU as a percentage, null without an interval; no limit is null", () => {
  assert.deepEqual(toUsageSample(sample("b1"), 5), {
    time: 5,
    "cpu_percent": 25,
    "mem_used": 1000,
    "mem_limit": null,
  });
  assert.equal(toUsageSample(sample("b1", { "sys_cpu": 0 }), 5).cpu_percent, null);
  assert.equal(toUsageSample(sample("b1", { "mem_limit": 4096 }), 5).mem_limit, 4096);
});

Deno.test("UsageHistory keeps the last samples per backend, latest only while fresh", () => {
  let now = 1_000;
  const history = new UsageHistory({ keep: 3, now: () => now });
  for (let i = 1; i <= 5; i++) {
    now += 10;
    history.record(sample("b1", { "mem_used": i }));
  }
  assert.deepEqual(history.recent("b1").map((s) => s.mem_used), [3, 4, 5]);
  assert.deepEqual(history.recent("nope"), []);
  assert.equal(history.latest("b1", 0)?.mem_used, 5);
  now += 31;
  assert.equal(history.latest("b1", 30), null, "a stale sample is not current");
  // A backend unheard for long is forgotten when another one shows up.
  now += FORGET_AFTER_MS;
  history.record(sample("b2"));
  assert.equal(history.size, 1);
  assert.deepEqual(history.recent("b1"), []);
});

Deno.test("UsageHistory.start subscribes once; close unsubscribes, even if closed while starting", async () => {
  let subscribed = 0;
  let stopped = 0;
  let feed: ((s: BackendMetricsMessage) => void) | null = null;
  const subscribe = (listener: (s: BackendMetricsMessage) => void) => {
    subscribed++;
    feed = listener;
    return Promise.resolve(() => void stopped++);
  };
  const history = new UsageHistory();
  await Promise.all([history.start(subscribe), history.start(subscribe)]);
  assert.equal(subscribed, 1);
  feed!(sample("b1"));
  assert.equal(history.recent("b1").length, 1);
  history.close();
  assert.equal(stopped, 1);

  const late = new UsageHistory();
  const starting = late.start(subscribe);
  late.close();
  await starting;
  assert.equal(stopped, 2);
});
