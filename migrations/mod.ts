/**
 * The migrations, embedded as text so the controller needs no filesystem access (it runs on
 * Deno Deploy). `mod_test.ts` checks this list matches the `.sql` files in this folder.
 */
import initialSchema from "./20261122000000_initial_schema.sql" with { type: "text" };

export interface Migration {
  /** File name without `.sql`: a 14-digit timestamp, `_`, a snake_case name. */
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  { name: "20261122000000_initial_schema", sql: initialSchema },
];
