/**
 * Keeps every "why" pointer in the code resolvable: each citation of the project's documents
 * must name a document that exists and a section heading it has (the form is defined in
 * docs/README.md, "Citing these documents").
 *
 * - `plane-0.5.md §7.2` names `docs/plane-0.5.md` (a `docs/` prefix may be written) and its
 *   heading numbered `7.2`; several sections of one document follow it: `§1.2, §1.3`,
 *   `§7.2–§7.5`, `§7.1 and §7.2`. `ARCHITECTURE.md §5` names the root document of that name.
 * - A document named without a section (`decisions.md`) must exist. A `.md` name inside a
 *   longer path (`deploy/README.md`) is a file reference, not a citation.
 * - A § after `RFC <number>` or `HTML Standard` cites that standard and is not checked; any other § that follows no
 *   document name is refused, because a bare number leaves the reader guessing which document
 *   it means.
 *
 * Checked: every `.ts` file (comments and test names alike) and the Markdown files outside
 * `docs/` (README.md, ARCHITECTURE.md, COMPARISON.md, deploy/). `docs/` itself refers to its own
 * sections freely.
 *
 * Usage: `deno run --allow-read _tools/check_citations.ts [root]`; exits 1 listing offenders as
 * `file:line: message`.
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

/** A document citations may name: its name as cited and the section numbers of its headings. */
export interface CitedDocument {
  name: string;
  sections: ReadonlySet<string>;
}

/** The root documents that may be cited besides those in `docs/`. */
export const ROOT_DOCUMENTS = ["README.md", "ARCHITECTURE.md", "COMPARISON.md"] as const;

/** A section number: `7`, `7.2`, `10.4.1`, or an appendix letter. */
const SECTION = String.raw`(?:\d+(?:\.\d+)*|[A-Z](?![\w]))`;
/** Between two sections of one run; comment prefixes (`*`, `//`) may sit in a line break. */
const SEPARATOR = String.raw`(?:,[\s*/]*|[\s*/]+(?:and|or)[\s*/]+|\s*[–-]\s*|/)`;
/** Words after a number that point inside its section: `step 7`, `steps 10–11`, `item 2`. */
const QUALIFIER = String.raw`(?:\s+(?:steps?|items?|rules?)\s+\d+(?:\s*[–-]\s*\d+)?)`;
const RUN = String.raw`§\s?${SECTION}${QUALIFIER}?(?:${SEPARATOR}§?\s?${SECTION}${QUALIFIER}?)*`;
/** A document name as cited: `name.md`, optionally `docs/name.md`, not part of a longer path. */
const DOCUMENT = String.raw`(?<![\w/.-])(docs\/)?([\w-]+(?:\.[\w-]+)*\.md)\b`;

/** The section numbers of a Markdown document's headings (`## 7. Proxy`, `### 7.2 Request`). */
export function sectionsOf(markdown: string): Set<string> {
  const sections = new Set<string>();
  for (const match of markdown.matchAll(/^#{1,6}\s+(?:Appendix\s+)?(\d+(?:\.\d+)*|[A-Z])[.\s]/gm)) {
    sections.add(match[1]!);
  }
  return sections;
}

function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Every citation problem in one file, in order of position. */
export function checkText(
  file: SourceFile,
  documents: ReadonlyMap<string, CitedDocument>,
): Violation[] {
  const found: { index: number; message: string }[] = [];
  const claimed = new Set<number>();
  const cited = new RegExp(
    String.raw`(?:${DOCUMENT}|(RFC[\s*/]*\d+|HTML Standard))(?:'s)?(?:[\s*/]+(${RUN}))?`,
    "g",
  );
  for (const match of file.text.matchAll(cited)) {
    const [whole, prefix, name, external, run] = match;
    if (run !== undefined) {
      const start = match.index + whole.length - run.length;
      for (const section of run.matchAll(/§/g)) claimed.add(start + section.index);
    }
    if (external !== undefined || name === undefined) continue;
    const document = documents.get(name);
    // Markdown links to sibling files (`[x](deno-deploy.md)`) are not citations.
    const link = file.path.endsWith(".md") && prefix === undefined && run === undefined;
    if (document === undefined && link) continue;
    if (document === undefined) {
      found.push({ index: match.index, message: `${name} is not a document in docs/` });
      continue;
    }
    if (run === undefined) continue;
    const numbers = run.replace(new RegExp(QUALIFIER, "g"), "");
    for (const section of numbers.matchAll(new RegExp(SECTION, "g"))) {
      if (!document.sections.has(section[0])) {
        found.push({
          index: match.index,
          message: `${name} has no section §${section[0]}`,
        });
      }
    }
  }
  for (const bare of file.text.matchAll(new RegExp(String.raw`§\s?(${SECTION})?`, "g"))) {
    if (claimed.has(bare.index)) continue;
    const section = bare[1] === undefined ? "§" : `§${bare[1]}`;
    found.push({
      index: bare.index,
      message: `"${section}" names no document; write "plane-0.5.md ${section}" or whichever ` +
        `document it means (docs/README.md)`,
    });
  }
  return found.sort((a, b) => a.index - b.index).map(({ index, message }) => ({
    path: file.path,
    line: lineAt(file.text, index),
    message,
  }));
}

/** This checker and its test write citations as examples, broken ones included. */
const SELF = new Set(["_tools/check_citations.ts", "_tools/check_citations_test.ts"]);

/** Checks every file against the documents; `docs/` files themselves are never checked. */
export function checkFiles(
  files: readonly SourceFile[],
  documents: ReadonlyMap<string, CitedDocument>,
): Violation[] {
  return files.filter((file) => !file.path.startsWith("docs/") && !SELF.has(file.path))
    .flatMap((file) => checkText(file, documents));
}

/** Documents by cited name, built from `docs/*.md` and the root documents. */
export function documentsFrom(files: readonly SourceFile[]): Map<string, CitedDocument> {
  const documents = new Map<string, CitedDocument>();
  for (const file of files) {
    const name = file.path.startsWith("docs/") && file.path.split("/").length === 2
      ? file.path.slice("docs/".length)
      : (ROOT_DOCUMENTS as readonly string[]).includes(file.path)
      ? file.path
      : null;
    if (name !== null && name.endsWith(".md")) {
      documents.set(name, { name, sections: sectionsOf(file.text) });
    }
  }
  return documents;
}

const SKIP_DIRS = new Set([".git", "node_modules", ".plane", "bench_out", "vendor"]);

async function* walk(root: string, dir = ""): AsyncGenerator<SourceFile> {
  for await (const entry of Deno.readDir(dir === "" ? root : `${root}/${dir}`)) {
    const path = dir === "" ? entry.name : `${dir}/${entry.name}`;
    if (entry.isDirectory) {
      if (!SKIP_DIRS.has(entry.name)) yield* walk(root, path);
    } else if (entry.isFile && /\.(ts|md)$/.test(entry.name)) {
      yield { path, text: await Deno.readTextFile(`${root}/${path}`) };
    }
  }
}

/** Reads the tree under `root` and checks it. */
export async function checkTree(root: string): Promise<Violation[]> {
  const files: SourceFile[] = [];
  for await (const file of walk(root)) files.push(file);
  files.sort((a, b) => a.path.localeCompare(b.path));
  return checkFiles(files, documentsFrom(files));
}

if (import.meta.main) {
  const violations = await checkTree(Deno.args[0] ?? ".");
  for (const v of violations) {
    // deno-lint-ignore no-console
    console.error(`${v.path}:${v.line}: ${v.message}`);
  }
  if (violations.length > 0) Deno.exit(1);
  // deno-lint-ignore no-console
  console.log("check_citations: ok");
}
