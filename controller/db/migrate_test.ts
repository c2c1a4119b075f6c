import assert from "node:assert/strict";
import { createTestDatabase } from "./test_database.ts";
import { runMigrations } from "./migrate.ts";
import { createPgliteDatabase } from "./pglite_database.ts";

Deno.test("runMigrations() applies each migration once, also when run concurrently", async () => {
  await using t = await createTestDatabase();
  // createTestDatabase already migrated; two more concurrent runs apply nothing.
  const other = t.open();
  const [a, b] = await Promise.all([runMigrations(t.db), runMigrations(other)]);
  assert.deepEqual(a.applied, []);
  assert.deepEqual(b.applied, []);
  const { rows } = await t.db.query<{ n: number }>(
    "select count(*)::int as n from plane_migration",
  );
  assert.equal(rows[0]?.n, a.alreadyApplied.length);
});

Deno.test("runMigrations() comments on every table and column", async () => {
  await using t = await createTestDatabase();
  const { rows } = await t.db.query<{ table_name: string; column_name: string }>(
    `select c.relname as table_name, a.attname as column_name
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
     join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
     where n.nspname = 'public' and c.relkind = 'r' and c.relname != 'plane_migration'
       and (col_description(c.oid, a.attnum) is null or obj_description(c.oid, 'pg_class') is null)`,
  );
  assert.deepEqual(rows, []);
});

Deno.test("runMigrations() runs the same migrations on embedded PGlite", async () => {
  const db = await createPgliteDatabase();
  try {
    const result = await runMigrations(db);
    assert.ok(result.applied.length > 0);
    const again = await runMigrations(db);
    assert.deepEqual(again.applied, []);
    const { rows } = await db.query<{ n: number }>("select count(*)::int as n from backend");
    assert.equal(rows[0]?.n, 0);
  } finally {
    await db.close();
  }
});
