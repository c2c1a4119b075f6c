import assert from "node:assert/strict";
import { executableProblem } from "./executable_check.ts";

const none = { allowedEnv: new Set<string>(), keyName: null };

Deno.test("executableProblem() passes ordinary executables", () => {
  assert.equal(executableProblem({ image: "echo" }, none), null);
  assert.equal(
    executableProblem({
      image: "echo",
      env: { USER_VAR: "1", HOME: "/x" },
      "network_name": "mynet",
      mount: "a/b",
    }, none),
    null,
  );
  assert.equal(executableProblem({ env: null, "network_name": null, mount: false }, none), null);
});

Deno.test("executableProblem() refuses injection names unless opted in, naming how", () => {
  const problem = executableProblem({ env: { NODE_OPTIONS: "--import=data:x" } }, none);
  assert.equal(problem?.kind, "invalid");
  assert.match(problem!.message, /"NODE_OPTIONS".*--allow-backend-env NAME.*allowEnv/);
  assert.equal(
    executableProblem({ env: { PYTHONPATH: "/x" } }, {
      ...none,
      allowedEnv: new Set(["PYTHONPATH"]),
    }),
    null,
  );
});

Deno.test("executableProblem() reports reserved names as reserved, and a bad env shape", () => {
  assert.equal(
    executableProblem({ env: { SESSION_BACKEND_STATIC_TOKEN: "x" } }, none)?.kind,
    "reserved",
  );
  assert.match(executableProblem({ env: { A: 1 } }, none)!.message, /executable\.env/);
  assert.match(executableProblem({ env: ["A"] }, none)!.message, /executable\.env/);
});

Deno.test("executableProblem() refuses container:* networks and mount paths with ':'", () => {
  assert.match(
    executableProblem({ "network_name": "container:x" }, none)!.message,
    /network_name "container:x"/,
  );
  assert.match(executableProblem({ "network_name": 5 }, none)!.message, /network_name/);
  assert.match(executableProblem({ mount: "x:/etc" }, none)!.message, /mount path "x:\/etc"/);
  assert.match(
    executableProblem({ mount: true }, { ...none, keyName: "k:/etc" })!.message,
    /mount path "k:\/etc".*key's name/,
  );
  assert.equal(executableProblem({ mount: true }, { ...none, keyName: "room-1" }), null);
});
