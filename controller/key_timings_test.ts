import assert from "node:assert/strict";
import { keyTimingsForLease, MIN_KEY_LEASE_MS } from "./key_timings.ts";
import { ControllerConfig } from "./config.ts";

Deno.test("keyTimingsForLease() of Plane's 60 s lease is Plane's 30/40/50/60 s (plane-0.5.md §5.2) and the schema's defaults", () => {
  const defaults = ControllerConfig.parse({ db: "postgres://db/plane" });
  const expected = {
    keyRenewAfterMs: 30_000,
    keySoftTerminateAfterMs: 40_000,
    keyHardTerminateAfterMs: 50_000,
    keyLeaseMs: 60_000,
  };
  assert.deepEqual(keyTimingsForLease(60_000), expected);
  assert.deepEqual(keyTimingsForLease(defaults.keyLeaseMs), {
    keyRenewAfterMs: defaults.keyRenewAfterMs,
    keySoftTerminateAfterMs: defaults.keySoftTerminateAfterMs,
    keyHardTerminateAfterMs: defaults.keyHardTerminateAfterMs,
    keyLeaseMs: defaults.keyLeaseMs,
  });
});

Deno.test("keyTimingsForLease() keeps renew < soft < hard < lease, accepted by the schema", () => {
  for (const lease of [MIN_KEY_LEASE_MS, 15_001, 20_000, 90_000, 3_600_000]) {
    const t = keyTimingsForLease(lease);
    assert.ok(t.keyRenewAfterMs < t.keySoftTerminateAfterMs, `${lease}`);
    assert.ok(t.keySoftTerminateAfterMs < t.keyHardTerminateAfterMs, `${lease}`);
    assert.ok(t.keyHardTerminateAfterMs < t.keyLeaseMs, `${lease}`);
    assert.ok(ControllerConfig.safeParse({ db: "x", ...t }).success, `${lease}`);
  }
});

Deno.test("MIN_KEY_LEASE_MS leaves the soft-terminate offset above a 7 s old heartbeat (plane-0.5.md §5.3)", () => {
  // Spawn deadlines count from the drone's last heartbeat, up to one 7 s interval old.
  assert.ok(keyTimingsForLease(MIN_KEY_LEASE_MS).keySoftTerminateAfterMs >= 7_000 + 3_000);
});
