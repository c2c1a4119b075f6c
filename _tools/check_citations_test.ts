import assert from "node:assert/strict";
import { checkFiles, checkTree, documentsFrom, sectionsOf } from "./check_citations.ts";

const DOCS = [
  {
    path: "docs/plane-0.5.md",
    text: "# Plane\n\n## 7. Proxy\n\n### 7.2 Request handling order\n\n### 7.5 Keepalives\n\n" +
      "## Appendix B. Timing constants\n",
  },
  { path: "docs/decisions.md", text: "# Decisions\n\n## 2. Fixed quirks\n\n### 2.4 Tokens\n" },
  { path: "ARCHITECTURE.md", text: "# Architecture\n\n### 5. Proxy request\n" },
];

function messages(path: string, text: string): string[] {
  return checkFiles([...DOCS, { path, text }], documentsFrom(DOCS)).map((v) =>
    `${v.path}:${v.line}: ${v.message}`
  );
}

Deno.test("sectionsOf() numbers headings, appendices included", () => {
  assert.deepEqual([...sectionsOf(DOCS[0]!.text)], ["7", "7.2", "7.5", "B"]);
});

Deno.test("checkFiles() accepts citations that resolve, lists and ranges included", () => {
  const text = [
    "/** Route lookup (plane-0.5.md §7.2 step 3, §7.5; docs/decisions.md §2.4). */",
    "// plane-0.5.md §7.2–§7.5 and §B; ARCHITECTURE.md §5, step 6; decisions.md",
    "/**",
    " * Split over a line break (plane-0.5.md",
    " * §7.2, §7.5), an RFC (RFC 9112 §6.3 and §7.1) and HTML Standard §9.2.6.",
    " */",
    'Deno.test("answers 400 (plane-0.5.md §7.2)", () => {});',
  ].join("\n");
  assert.deepEqual(messages("proxy/request.ts", text), []);
});

Deno.test("checkFiles() names file:line of a missing section, document or bare §", () => {
  const text = [
    "// Fine: plane-0.5.md §7.2.",
    "/** Broken: plane-0.5.md §7.9 and decisions.md §2.4, §3.1. */",
    "// Missing document: behaviour.md §7.2.",
    "// Which document? §7.2",
  ].join("\n");
  assert.deepEqual(messages("proxy/request.ts", text), [
    "proxy/request.ts:2: plane-0.5.md has no section §7.9",
    "proxy/request.ts:2: decisions.md has no section §3.1",
    "proxy/request.ts:3: behaviour.md is not a document in docs/",
    'proxy/request.ts:4: "§7.2" names no document; write "plane-0.5.md §7.2" or whichever ' +
    "document it means (docs/README.md)",
  ]);
});

Deno.test("checkFiles() leaves docs/ alone and Markdown links to sibling files", () => {
  assert.deepEqual(messages("docs/targets.md", "See §7.2 and nowhere.md §1."), []);
  assert.deepEqual(messages("deploy/README.md", "See [x](deno-deploy.md)."), []);
  assert.deepEqual(messages("README.md", "See docs/nowhere.md."), [
    "README.md:1: nowhere.md is not a document in docs/",
  ]);
});

Deno.test("checkTree() finds nothing to refuse in this repository", async () => {
  assert.deepEqual(await checkTree(new URL("..", import.meta.url).pathname), []);
});
