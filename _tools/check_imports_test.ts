import assert from "node:assert/strict";
import { checkFiles, checkTree, importsOf, isControllerRuntime } from "./check_imports.ts";

function messages(files: { path: string; text: string }[]): string[] {
  return checkFiles(files).map((v) => `${v.path}:${v.line}: ${v.message}`);
}

Deno.test("importsOf() finds static, type-only, side-effect, re-export and dynamic imports", () => {
  const text = [
    'import { a } from "./a.ts";',
    "import type {",
    "  B,",
    '} from "../b.ts";',
    'import "./side.ts";',
    'export * from "./c.ts";',
    'const d = await import("./d.ts");',
    '// import { e } from "./commented.ts";',
  ].join("\n");
  assert.deepEqual(importsOf(text), [
    { specifier: "./a.ts", line: 1 },
    { specifier: "../b.ts", line: 4 },
    { specifier: "./side.ts", line: 5 },
    { specifier: "./c.ts", line: 6 },
    { specifier: "./d.ts", line: 7 },
  ]);
});

Deno.test("checkFiles() refuses controller ↔ drone imports in both directions", () => {
  assert.deepEqual(
    messages([
      { path: "controller/x.ts", text: 'import { y } from "../drone/y.ts";' },
      { path: "drone/y.ts", text: '\nimport { x } from "../controller/x.ts";' },
      { path: "controller/ok.ts", text: 'import { s } from "../shared/s.ts";' },
    ]),
    [
      'controller/x.ts:1: controller/ must not import drone/ ("../drone/y.ts")',
      'drone/y.ts:2: drone/ must not import controller/ ("../controller/x.ts")',
    ],
  );
});

Deno.test("checkFiles() keeps proxy/ apart from controller/ and drone/, except in tests", () => {
  assert.deepEqual(
    messages([
      { path: "proxy/x.ts", text: 'import { y } from "../controller/y.ts";' },
      { path: "drone/y.ts", text: 'import { x } from "../proxy/x.ts";' },
      { path: "proxy/x_test.ts", text: 'import { y } from "../controller/y.ts";' },
      { path: "proxy/ok.ts", text: 'import { s } from "../shared/s.ts";' },
    ]),
    [
      'proxy/x.ts:1: proxy/ must not import controller/ ("../controller/y.ts")',
      'drone/y.ts:1: drone/ must not import proxy/ ("../proxy/x.ts")',
    ],
  );
});

Deno.test("checkFiles() lets shared/ import only zod and shared/", () => {
  assert.deepEqual(
    messages([{
      path: "shared/a.ts",
      text: [
        'import { z } from "zod";',
        'import { b } from "./b.ts";',
        'import pg from "pg";',
        'import { c } from "../controller/c.ts";',
        'import { parseArgs } from "node:util";',
      ].join("\n"),
    }]),
    [
      'shared/a.ts:3: shared/ may import only zod and shared/ ("pg")',
      'shared/a.ts:4: shared/ may import only zod and shared/ ("../controller/c.ts")',
      'shared/a.ts:5: shared/ may import only zod and shared/ ("node:util")',
    ],
  );
});

Deno.test("checkFiles() keeps filesystem and subprocess APIs out of controller runtime code", () => {
  const bad = [
    'import { readFileSync } from "node:fs";',
    'import { spawn } from "node:child_process";',
    "await Deno.readTextFile('x');",
    "new Deno.Command('ls');",
    "// Deno.run in a comment is fine",
  ].join("\n");
  assert.deepEqual(messages([{ path: "controller/a.ts", text: bad }]), [
    'controller/a.ts:1: controller must run on Deno Deploy: no "node:fs"',
    'controller/a.ts:2: controller must run on Deno Deploy: no "node:child_process"',
    "controller/a.ts:3: controller must run on Deno Deploy: no Deno.readTextFile",
    "controller/a.ts:4: controller must run on Deno Deploy: no Deno.Command",
  ]);
  for (
    const path of [
      "controller/a_test.ts",
      "controller/testing/x.ts",
      "controller/db/test_database.ts",
      "controller/db/pglite_database.ts",
      "controller/connect_bench.ts",
      "bench/connect_bench.ts",
      "cli/main.ts",
    ]
  ) {
    assert.equal(isControllerRuntime(path), false, path);
    assert.deepEqual(messages([{ path, text: bad }]), [], path);
  }
});

Deno.test("checkFiles() refuses controller runtime imports of test and dev-only modules", () => {
  assert.deepEqual(
    messages([{
      path: "controller/mod.ts",
      text: 'import { createPgliteDatabase } from "./db/pglite_database.ts";',
    }]),
    [
      "controller/mod.ts:1: controller runtime code must not import test or dev-only " +
      '"./db/pglite_database.ts"',
    ],
  );
});

Deno.test("checkTree() reads the folders under a root", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/controller`);
  await Deno.mkdir(`${dir.path}/shared`);
  await Deno.writeTextFile(`${dir.path}/controller/a.ts`, 'import "../drone/b.ts";\n');
  await Deno.writeTextFile(`${dir.path}/shared/s.ts`, 'import { z } from "zod";\n');
  const violations = await checkTree(dir.path);
  assert.deepEqual(violations.map((v) => v.path), ["controller/a.ts"]);
});

async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "check_imports_" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

Deno.test("checkFiles() lets shared/ tests use node: helpers, not other packages", () => {
  assert.deepEqual(
    messages([{
      path: "shared/a_test.ts",
      text: 'import assert from "node:assert/strict";\nimport pg from "pg";',
    }]),
    ['shared/a_test.ts:2: shared/ may import only zod and shared/ ("pg")'],
  );
});

Deno.test("checkFiles() makes other folders enter a folder with a mod.ts through it", () => {
  const files = [
    { path: "proxy/engine/mod.ts", text: 'export * from "./engine.ts";' },
    { path: "proxy/engine/engine.ts", text: 'import { x } from "./_core.ts";' },
    { path: "proxy/serve.ts", text: 'import { a } from "./engine/engine.ts";' },
    { path: "proxy/request.ts", text: 'import { a } from "./engine/mod.ts";' },
    { path: "cli/run.ts", text: 'import { b } from "../proxy/engine/mod.ts";' },
    { path: "proxy/engine/_core.ts", text: 'import { c } from "../config.ts";' },
  ];
  assert.deepEqual(messages(files), [
    'proxy/serve.ts:1: import proxy/engine/ through proxy/engine/mod.ts, not "./engine/engine.ts"',
  ]);
});

Deno.test("checkFiles() exempts tests, testing/ folders, bench/ and the dev-only databases", () => {
  const door = { path: "controller/db/mod.ts", text: 'export * from "./drones.ts";' };
  const reach = (path: string, specifier: string) => ({
    path,
    text: `import { x } from "${specifier}";`,
  });
  assert.deepEqual(
    messages([
      door,
      reach("controller/scheduler_test.ts", "./db/drones.ts"),
      reach("controller/testing/seed.ts", "../db/drones.ts"),
      reach("bench/connect.ts", "../controller/db/drones.ts"),
      reach("tests/env.ts", "../controller/db/drones.ts"),
      reach("cli/open_database.ts", "../controller/db/pglite_database.ts"),
      reach("cli/seed.ts", "../controller/testing/seed.ts"),
    ]),
    [],
  );
});

Deno.test("checkFiles() refuses Deno.* I/O in shared/ but allows timer calls and tests", () => {
  const text = [
    "const data = await Deno.readTextFile(path);",
    "Deno.unrefTimer(timer);",
    "// Deno.exit() in a comment is fine",
    "const home = Deno.env.get('HOME');",
  ].join("\n");
  assert.deepEqual(messages([{ path: "shared/a.ts", text }]), [
    "shared/a.ts:1: shared/ does no I/O: no Deno.* API (pass it in from the caller)",
    "shared/a.ts:4: shared/ does no I/O: no Deno.* API (pass it in from the caller)",
  ]);
  assert.deepEqual(messages([{ path: "shared/a_test.ts", text }]), []);
});
