import assert from "node:assert/strict";
import { MIGRATIONS } from "./mod.ts";

Deno.test("MIGRATIONS lists every .sql migration file of the folder, in order", async () => {
  const files: string[] = [];
  for await (const entry of Deno.readDir(new URL(".", import.meta.url))) {
    if (/^\d{14}_[a-z0-9_]+\.sql$/.test(entry.name)) files.push(entry.name.slice(0, -4));
  }
  files.sort();
  assert.deepEqual(MIGRATIONS.map((m) => m.name), files);
  assert.ok(files.length > 0);
});
