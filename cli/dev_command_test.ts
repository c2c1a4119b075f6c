import assert from "node:assert/strict";
import { parseDevFlags } from "./dev_command.ts";
import { UsageError } from "./usage_error.ts";

Deno.test("parseDevFlags() passes --workers to the embedded proxy; unset means one per core (issue 13)", () => {
  const run = (args: string[]) => {
    const result = parseDevFlags(args);
    assert.equal(result.kind, "run");
    if (result.kind !== "run") throw new Error("unreachable");
    return result.options;
  };
  assert.equal(run([]).workers, undefined);
  assert.equal(run(["--workers", "1"]).workers, 1);
  assert.equal(run(["--workers", "4"]).workers, 4);
  for (const bad of ["0", "x", "1.5"]) {
    assert.throws(
      () => parseDevFlags(["--workers", bad]),
      (err) => err instanceof UsageError && /^Invalid --workers: /.test(err.message),
      bad,
    );
  }
});
