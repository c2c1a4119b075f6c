/**
 * Applies the embedded migrations once each, in order, inside one transaction guarded by an
 * advisory lock, so many controllers can start at once safely (style.md §25).
 */
import type { Database } from "./database.ts";
import { type Migration, MIGRATIONS } from "../../migrations/mod.ts";

/** Arbitrary constant: the advisory lock id all controllers of one database agree on. */
const MIGRATION_LOCK_ID = 7_254_119_031;

export interface MigrationResult {
  applied: string[];
  alreadyApplied: string[];
}

export async function runMigrations(
  db: Database,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<MigrationResult> {
  return await db.transaction(async (tx) => {
    await tx.query("select pg_advisory_xact_lock($1)", [MIGRATION_LOCK_ID]);
    await tx.query(
      `create table if not exists plane_migration (
         name varchar(255) primary key,
         applied_at timestamptz not null default now()
       )`,
    );
    const { rows } = await tx.query<{ name: string }>("select name from plane_migration");
    const done = new Set(rows.map((r) => r.name));
    const result: MigrationResult = { applied: [], alreadyApplied: [] };
    for (const migration of migrations) {
      if (done.has(migration.name)) {
        result.alreadyApplied.push(migration.name);
        continue;
      }
      await tx.query(migration.sql);
      await tx.query("insert into plane_migration (name) values ($1)", [migration.name]);
      result.applied.push(migration.name);
    }
    return result;
  });
}
