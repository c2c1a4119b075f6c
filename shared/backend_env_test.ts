import assert from "node:assert/strict";
import {
  backendEnvRefusal,
  firstEnvRefusal,
  isInjectionEnvName,
  isReservedEnvName,
} from "./backend_env.ts";

const TABLE: [name: string, expected: "invalid" | "reserved" | "injection" | null][] = [
  // Ordinary app configuration passes (a deny-list: apps pass arbitrary env).
  ["USER_VAR", null],
  ["DATABASE_URL", null],
  ["NODE_ENV", null],
  ["PYTHON", "injection"],
  ["HOME", null],
  ["TMPDIR", null],
  ["PORT", null],
  ["JAMSOCKET_SERVICE", null],
  ["LANG", null],
  ["APP.SETTING-1", null],
  ["LDAP_URL", null],
  ["MY_PATH", null],
  ["PATHS", null],
  // Invalid names.
  ["", "invalid"],
  ["A=B", "invalid"],
  ["=", "invalid"],
  ["A\0B", "invalid"],
  // Reserved: set by the platform.
  ["SESSION_BACKEND_STATIC_TOKEN", "reserved"],
  ["SESSION_BACKEND_ID", "reserved"],
  ["session_backend_key", "reserved"],
  ["PLANE_CLUSTER_SECRET", "reserved"],
  ["Plane_Anything", "reserved"],
  // Injection: runtimes, the loader, libc, shells.
  ["NODE_OPTIONS", "injection"],
  ["node_options", "injection"],
  ["Node_Options", "injection"],
  ["NODE_PATH", "injection"],
  ["LD_PRELOAD", "injection"],
  ["LD_LIBRARY_PATH", "injection"],
  ["LD_AUDIT", "injection"],
  ["ld_preload", "injection"],
  ["DYLD_INSERT_LIBRARIES", "injection"],
  ["PATH", "injection"],
  ["path", "injection"],
  ["DENO_DIR", "injection"],
  ["DENO_AUTH_TOKENS", "injection"],
  ["BUN_CONFIG", "injection"],
  ["PYTHONPATH", "injection"],
  ["PYTHONSTARTUP", "injection"],
  ["PYTHONHOME", "injection"],
  ["PERL5OPT", "injection"],
  ["PERL5LIB", "injection"],
  ["PERLLIB", "injection"],
  ["RUBYOPT", "injection"],
  ["RUBYLIB", "injection"],
  ["JAVA_TOOL_OPTIONS", "injection"],
  ["_JAVA_OPTIONS", "injection"],
  ["JDK_JAVA_OPTIONS", "injection"],
  ["CLASSPATH", "injection"],
  ["BASH_ENV", "injection"],
  ["ENV", null], // read by interactive shells only; a common app setting
  ["SHELLOPTS", "injection"],
  ["BASHOPTS", "injection"],
  ["BASH_FUNC_ls%%", "injection"],
  ["PS4", "injection"],
  ["IFS", "injection"],
  ["GCONV_PATH", "injection"],
  ["LOCPATH", "injection"],
  ["MALLOC_CHECK_", "injection"],
  ["GLIBC_TUNABLES", "injection"],
];

for (const [name, expected] of TABLE) {
  Deno.test(`backendEnvRefusal(${JSON.stringify(name)}) is ${expected ?? "allowed"}`, () => {
    const refusal = backendEnvRefusal(name);
    assert.equal(refusal?.kind ?? null, expected);
    if (refusal) assert.ok(refusal.message.includes(JSON.stringify(name).slice(1, -1)));
  });
}

Deno.test("backendEnvRefusal() lifts an injection refusal only for the exact name opted in", () => {
  const allowed = new Set(["PYTHONPATH", "SESSION_BACKEND_STATIC_TOKEN", "PLANE_X"]);
  assert.equal(backendEnvRefusal("PYTHONPATH", { allowed }), null);
  assert.equal(backendEnvRefusal("pythonpath", { allowed })?.kind, "injection");
  assert.equal(backendEnvRefusal("PYTHONSTARTUP", { allowed })?.kind, "injection");
  // Reserved names cannot be opted in.
  assert.equal(backendEnvRefusal("SESSION_BACKEND_STATIC_TOKEN", { allowed })?.kind, "reserved");
  assert.equal(backendEnvRefusal("PLANE_X", { allowed })?.kind, "reserved");
});

Deno.test("backendEnvRefusal() names the variable, why, and how to opt in", () => {
  const refusal = backendEnvRefusal("NODE_OPTIONS", { optIn: "opt it in with --allow-x" });
  assert.equal(
    refusal?.message,
    'Cannot set environment variable "NODE_OPTIONS": a language runtime, the loader or a ' +
      "shell reads it as code to run; opt it in with --allow-x",
  );
  assert.match(backendEnvRefusal("PLANE_X")!.message, /reserved for the platform/);
  assert.match(backendEnvRefusal("A=B")!.message, /"A=B".*'='/);
});

Deno.test("firstEnvRefusal() reports the first refused name in order, or null", () => {
  assert.equal(firstEnvRefusal({ A: "1", B: "2" }), null);
  assert.equal(firstEnvRefusal({}), null);
  const refusal = firstEnvRefusal({ A: "1", LD_PRELOAD: "x", NODE_OPTIONS: "y" });
  assert.match(refusal!.message, /"LD_PRELOAD"/);
});

Deno.test("isReservedEnvName() and isInjectionEnvName() fold case", () => {
  assert.ok(isReservedEnvName("session_backend_id"));
  assert.ok(!isReservedEnvName("SESSION_BACKEND"));
  assert.ok(isInjectionEnvName("Ld_Preload"));
  assert.ok(!isInjectionEnvName("LDAP_URL"));
});

Deno.test("firstEnvRefusal() with injection: false refuses only invalid and reserved names (Docker)", () => {
  assert.equal(firstEnvRefusal({ NODE_OPTIONS: "x", LD_PRELOAD: "y" }, { injection: false }), null);
  assert.equal(
    firstEnvRefusal({ SESSION_BACKEND_STATIC_TOKEN: "x" }, { injection: false })?.kind,
    "reserved",
  );
  assert.equal(firstEnvRefusal({ "A=B": "x" }, { injection: false })?.kind, "invalid");
});
