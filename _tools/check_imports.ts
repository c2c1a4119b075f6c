/**
 * Enforces the dependency direction `controller → shared ← drone` (style.md §4) and keeps the
 * controller runnable on Deno Deploy:
 *
 * - `controller/`, `drone/` and `proxy/` never import each other outside tests;
 * - `shared/` imports only `zod` and other `shared/` files (its tests and benches may also use
 *   `node:` test helpers such as `node:assert`);
 * - controller runtime files (not tests, `testing/`, benches, or the dev/test-only database
 *   modules) use no filesystem or subprocess API and import none of those excluded files;
 * - `shared/` touches no `Deno.*` I/O (only the timer calls `Deno.unrefTimer`/`refTimer`), so the
 *   wire types and pure helpers run anywhere, the published client included;
 * - a folder with a `mod.ts` is entered only through it (style.md §3): a file outside such a
 *   folder imports `that/folder/mod.ts`, never a file inside it. Files inside a door folder may
 *   import each other and their enclosing folders' files directly (a child is part of its parent).
 *   Exempt, because they exercise internals on purpose: tests (`*_test.ts`), `testing/` folders,
 *   `bench/`, `tests/`, `examples/` and `_tools/`. Exempt as targets: `testing/` folders (test
 *   helpers are not part of any door) and `DEV_ONLY_DOORS`.
 *
 * Usage: `deno run --allow-read _tools/check_imports.ts [root]`; exits 1 listing offenders.
 */

export interface SourceFile {
  /** Path relative to the repository root, with `/` separators. */
  path: string;
  text: string;
}

export interface Violation {
  path: string;
  line: number;
  message: string;
}

const CONTROLLER_DEV_ONLY = new Set([
  "controller/db/test_database.ts",
  "controller/db/pglite_database.ts",
]);

/**
 * Modules that are their own door: the dev/test databases must stay out of `controller/db/mod.ts`,
 * or the controller's Deno Deploy runtime, which imports that door, would load PGlite.
 */
const DEV_ONLY_DOORS = new Set([...CONTROLLER_DEV_ONLY]);

/** Importers that may reach any folder's internals (see the header). */
function isDoorExempt(path: string): boolean {
  return isTestOrBench(path) || /(^|\/)testing\//.test(path) ||
    /^(bench|tests|examples|_tools)\//.test(path);
}

/** The nearest folder holding `path` (a file) that has a `mod.ts` among `doors`, or null. */
function doorOf(path: string, doors: ReadonlySet<string>): string | null {
  const parts = path.split("/").slice(0, -1);
  for (let n = parts.length; n > 0; n--) {
    const folder = parts.slice(0, n).join("/");
    if (doors.has(folder)) return folder;
  }
  return null;
}

/** `Deno.*` in `shared/` is I/O except for these timer calls. */
const SHARED_DENO_OK = /\bDeno\.(unrefTimer|refTimer)\b/g;

/** Deno Deploy has no subprocesses and no general filesystem. */
const FORBIDDEN_APIS: { pattern: RegExp; name: string }[] = [
  { pattern: /\bDeno\.readFile(Sync)?\b/, name: "Deno.readFile" },
  { pattern: /\bDeno\.readTextFile(Sync)?\b/, name: "Deno.readTextFile" },
  { pattern: /\bDeno\.Command\b/, name: "Deno.Command" },
  { pattern: /\bDeno\.run\b/, name: "Deno.run" },
];
const FORBIDDEN_MODULES = /^(node:)?(fs|fs\/promises|child_process)$/;

function isTestOrBench(path: string): boolean {
  return /_(test|bench)\.ts$/.test(path) || /(^|\/)bench[^/]*\.ts$/.test(path) ||
    path.startsWith("bench/");
}

/** True for controller files that must run on Deno Deploy. */
export function isControllerRuntime(path: string): boolean {
  if (!path.startsWith("controller/")) return false;
  if (path.startsWith("controller/testing/")) return false;
  if (isTestOrBench(path)) return false;
  return !CONTROLLER_DEV_ONLY.has(path);
}

/** Replaces comments with spaces (keeping line numbers) so prose cannot trip the checks. */
export function stripComments(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, " "))
    .replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
}

const IMPORT_PATTERNS = [
  /\b(?:import|export)\s+(?:type\s+)?[\w*{}\s,$]*?\bfrom\s*["']([^"']+)["']/g,
  /\bimport\s*["']([^"']+)["']/g,
  /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
];

/** Every module specifier `text` imports or re-exports, with its line number. */
export function importsOf(text: string): { specifier: string; line: number }[] {
  const code = stripComments(text);
  const found: { specifier: string; line: number; index: number }[] = [];
  for (const pattern of IMPORT_PATTERNS) {
    for (const match of code.matchAll(pattern)) {
      const index = match.index + match[0].lastIndexOf(match[1]!);
      found.push({
        specifier: match[1]!,
        index,
        line: code.slice(0, index).split("\n").length,
      });
    }
  }
  return found.sort((a, b) => a.index - b.index).map(({ specifier, line }) => ({
    specifier,
    line,
  }));
}

/** A relative specifier resolved against `from` (repo-relative), or null for bare ones. */
export function resolveRelative(from: string, specifier: string): string | null {
  if (!specifier.startsWith("./") && !specifier.startsWith("../")) return null;
  const parts = from.split("/").slice(0, -1);
  for (const segment of specifier.split("/")) {
    if (segment === "." || segment === "") continue;
    if (segment === "..") parts.pop();
    else parts.push(segment);
  }
  return parts.join("/");
}

function topFolder(path: string): string {
  return path.split("/")[0]!;
}

function isZod(specifier: string): boolean {
  return specifier === "zod" || /^npm:zod(@[^/]*)?(\/.*)?$/.test(specifier) ||
    specifier.startsWith("zod/");
}

export function checkFiles(files: readonly SourceFile[]): Violation[] {
  const violations: Violation[] = [];
  const doors = new Set(
    files.filter((f) => f.path.endsWith("/mod.ts")).map((f) => f.path.slice(0, -"/mod.ts".length)),
  );
  for (const file of files) {
    const top = topFolder(file.path);
    const runtime = isControllerRuntime(file.path);
    for (const { specifier, line } of importsOf(file.text)) {
      const target = resolveRelative(file.path, specifier);
      const add = (message: string) => violations.push({ path: file.path, line, message });
      const targetTop = target === null ? null : topFolder(target);
      // controller, drone and proxy are peers: only the CLI (and tests) wire them together.
      const peers = ["controller", "drone", "proxy"];
      if (
        peers.includes(top) && targetTop !== null && peers.includes(targetTop) &&
        targetTop !== top && !isTestOrBench(file.path)
      ) {
        add(`${top}/ must not import ${targetTop}/ ("${specifier}")`);
      }
      const sharedOk = targetTop === "shared" || (target === null && isZod(specifier)) ||
        (isTestOrBench(file.path) && target === null && specifier.startsWith("node:"));
      if (top === "shared" && !sharedOk) {
        add(`shared/ may import only zod and shared/ ("${specifier}")`);
      }
      const door = target === null ? null : doorOf(target, doors);
      if (
        door !== null && target !== `${door}/mod.ts` && !file.path.startsWith(`${door}/`) &&
        !isDoorExempt(file.path) && !/(^|\/)testing\//.test(target!) && !DEV_ONLY_DOORS.has(target!)
      ) {
        add(`import ${door}/ through ${door}/mod.ts, not "${specifier}"`);
      }
      if (runtime) {
        if (FORBIDDEN_MODULES.test(specifier)) {
          add(`controller must run on Deno Deploy: no "${specifier}"`);
        }
        if (target !== null && target.startsWith("controller/") && !isControllerRuntime(target)) {
          add(`controller runtime code must not import test or dev-only "${specifier}"`);
        }
      }
    }
    if (top === "shared" && !isTestOrBench(file.path)) {
      stripComments(file.text).split("\n").forEach((text, i) => {
        if (/\bDeno\.\w+/.test(text.replace(SHARED_DENO_OK, ""))) {
          violations.push({
            path: file.path,
            line: i + 1,
            message: "shared/ does no I/O: no Deno.* API (pass it in from the caller)",
          });
        }
      });
    }
    if (runtime) {
      const lines = stripComments(file.text).split("\n");
      lines.forEach((text, i) => {
        for (const api of FORBIDDEN_APIS) {
          if (api.pattern.test(text)) {
            violations.push({
              path: file.path,
              line: i + 1,
              message: `controller must run on Deno Deploy: no ${api.name}`,
            });
          }
        }
      });
    }
  }
  return violations;
}

const CHECKED_FOLDERS = ["cli", "controller", "dns", "drone", "migrations", "proxy", "shared"];

async function* walk(root: string, dir: string): AsyncGenerator<string> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(`${root}/${dir}`));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* walk(root, path);
    else if (entry.isFile && /\.(ts|tsx|js|mjs|jsx)$/.test(entry.name)) yield path;
  }
}

export async function checkTree(root: string): Promise<Violation[]> {
  const files: SourceFile[] = [];
  for (const folder of CHECKED_FOLDERS) {
    for await (const path of walk(root, folder)) {
      files.push({ path, text: await Deno.readTextFile(`${root}/${path}`) });
    }
  }
  return checkFiles(files);
}

if (import.meta.main) {
  const root = Deno.args[0] ?? new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const violations = await checkTree(root);
  const encoder = new TextEncoder();
  if (violations.length > 0) {
    const lines = violations.map((v) => `${v.path}:${v.line}: ${v.message}`);
    Deno.stderr.writeSync(
      encoder.encode(`check_imports: ${violations.length} offender(s)\n${lines.join("\n")}\n`),
    );
    Deno.exit(1);
  }
  Deno.stdout.writeSync(encoder.encode("check_imports: ok\n"));
}
