/**
 * `--db URL|DIR` (decisions.md §3.2): a `postgres://` or `postgresql://` URL opens
 * Postgres through `npm:pg`; anything else is a directory, created if missing, holding
 * embedded Postgres (PGlite) with the same migrations and queries.
 */
import { createPgDatabase, type Database } from "../controller/db/mod.ts";
import { createPgliteDatabase } from "../controller/db/pglite_database.ts";
import type { Logger } from "../shared/mod.ts";

export function isPostgresUrl(spec: string): boolean {
  return /^postgres(ql)?:\/\//i.test(spec);
}

export async function openDatabase(spec: string, options: { log: Logger }): Promise<Database> {
  if (isPostgresUrl(spec)) return createPgDatabase({ url: spec, log: options.log });
  try {
    await Deno.mkdir(spec, { recursive: true });
  } catch (err) {
    throw new Error(`Cannot create the database directory "${spec}": ${(err as Error).message}`, {
      cause: err,
    });
  }
  return await createPgliteDatabase(spec);
}
