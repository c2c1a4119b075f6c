/**
 * Test fixture: a fresh, migrated Postgres database per test on the local server
 * (`PLANE_TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`),
 * dropped when disposed.
 */
// @ts-types="@types/pg"
import pg from "pg";
import { createPgDatabase } from "./pg_database.ts";
import type { Database } from "./database.ts";
import { runMigrations } from "./migrate.ts";
import { createLogger, randomSuffix } from "../../shared/mod.ts";

export interface TestDatabase extends AsyncDisposable {
  db: Database;
  url: string;
  /** Opens another independent `Database` on the same database (a second controller). */
  open(): Database;
}

export function adminUrl(): string {
  return Deno.env.get("PLANE_TEST_DATABASE_URL") ?? "postgres://postgres@127.0.0.1:5432/postgres";
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `plane_test_${randomSuffix()}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  const log = createLogger("test.db", { level: "error" });
  const opened: Database[] = [];
  function open(): Database {
    const db = createPgDatabase({ url: url.href, log, max: 30 });
    opened.push(db);
    return db;
  }
  const db = open();
  await runMigrations(db);
  return {
    db,
    url: url.href,
    open,
    async [Symbol.asyncDispose]() {
      await Promise.all(opened.map((d) => d.close()));
      const admin = new pg.Client({ connectionString: adminUrl() });
      await admin.connect();
      try {
        await admin.query(`drop database if exists ${name} with (force)`);
      } finally {
        await admin.end();
      }
    },
  };
}
