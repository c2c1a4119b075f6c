import assert from "node:assert/strict";
import { ACK_BATCH_MAX, AckBatcher } from "./ack_batcher.ts";
import { silentLogger } from "../shared/log.ts";

const log = silentLogger();

Deno.test("AckBatcher writes the acks of one burst in one batch, later ones in the next", async () => {
  const batches: string[][] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const acks = new AckBatcher(async (ids) => {
    batches.push(ids);
    if (batches.length === 1) await gate;
  }, log);
  for (let i = 0; i < 3; i++) acks.add(`ak-${i}`);
  await new Promise((r) => setTimeout(r, 0));
  acks.add("ak-3");
  acks.add("ak-4");
  release();
  await acks.idle();
  assert.deepEqual(batches, [["ak-0", "ak-1", "ak-2"], ["ak-3", "ak-4"]]);
});

Deno.test("AckBatcher splits a large burst and goes on after a failed batch", async () => {
  const batches: number[] = [];
  const acks = new AckBatcher((ids) => {
    batches.push(ids.length);
    return batches.length === 1 ? Promise.reject(new Error("database down")) : Promise.resolve();
  }, log);
  for (let i = 0; i < ACK_BATCH_MAX + 5; i++) acks.add(`ak-${i}`);
  await acks.idle();
  assert.deepEqual(batches, [ACK_BATCH_MAX, 5]);
});
