/**
 * A strict parser of the Prometheus text exposition format 0.0.4, for tests of every `/metrics`
 * (issue 15: "the output parses with a Prometheus text-format parser"). Stricter than
 * Prometheus itself where our output should be clean: every sample belongs to a family declared
 * by `# TYPE` before it, no series twice, histogram buckets cumulative and ending at `+Inf` with
 * `_count`. Throws `SyntaxError` naming the line.
 * Format: https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 */

export interface ParsedSample {
  /** The sample's own name (`x_bucket`, `x_sum`… for a histogram). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedFamily {
  name: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help: string;
  samples: ParsedSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

function parseValue(text: string, line: number): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) {
    throw new SyntaxError(`Line ${line}: invalid value "${text}"`);
  }
  return Number(text);
}

/** `{a="x",b="y"}` from position `at` of `text`; returns the labels and the position after. */
function parseLabels(
  text: string,
  at: number,
  line: number,
): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = at + 1;
  for (;;) {
    if (text[i] === "}") return { labels, end: i + 1 };
    const eq = text.indexOf("=", i);
    if (eq === -1) throw new SyntaxError(`Line ${line}: unterminated label set`);
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name)) throw new SyntaxError(`Line ${line}: bad label name "${name}"`);
    if (name in labels) throw new SyntaxError(`Line ${line}: label "${name}" twice`);
    if (text[eq + 1] !== '"') throw new SyntaxError(`Line ${line}: label value must be quoted`);
    let value = "";
    let j = eq + 2;
    for (;; j++) {
      const c = text[j];
      if (c === undefined) throw new SyntaxError(`Line ${line}: unterminated label value`);
      if (c === '"') break;
      if (c === "\\") {
        const next = text[++j];
        if (next === "n") value += "\n";
        else if (next === "\\" || next === '"') value += next;
        else throw new SyntaxError(`Line ${line}: bad escape "\\${next}"`);
      } else value += c;
    }
    labels[name] = value;
    i = j + 1;
    if (text[i] === ",") i++;
    else if (text[i] !== "}") throw new SyntaxError(`Line ${line}: expected "," or "}"`);
  }
}

function familyOf(sample: string, families: Map<string, ParsedFamily>): ParsedFamily | undefined {
  const direct = families.get(sample);
  if (direct !== undefined) return direct;
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!sample.endsWith(suffix)) continue;
    const family = families.get(sample.slice(0, -suffix.length));
    if (family?.type === "histogram" || family?.type === "summary") return family;
  }
  return undefined;
}

function checkHistograms(families: Iterable<ParsedFamily>): void {
  for (const family of families) {
    if (family.type !== "histogram") continue;
    const series = new Map<string, { buckets: ParsedSample[]; count?: number; sum?: number }>();
    for (const s of family.samples) {
      const { le: _le, ...rest } = s.labels;
      const key = JSON.stringify(Object.entries(rest).sort());
      let entry = series.get(key);
      if (entry === undefined) series.set(key, entry = { buckets: [] });
      if (s.name.endsWith("_bucket")) {
        if (s.labels.le === undefined) throw new SyntaxError(`${s.name}: bucket without "le"`);
        entry.buckets.push(s);
      } else if (s.name.endsWith("_count")) entry.count = s.value;
      else if (s.name.endsWith("_sum")) entry.sum = s.value;
      else throw new SyntaxError(`${family.name}: a histogram sample named ${s.name}`);
    }
    for (const [key, entry] of series) {
      const where = `${family.name}${key}`;
      if (entry.count === undefined || entry.sum === undefined) {
        throw new SyntaxError(`${where}: histogram without _sum or _count`);
      }
      let previousLe = -Infinity;
      let previous = 0;
      for (const b of entry.buckets) {
        const le = parseValue(b.labels.le!, 0);
        if (le <= previousLe) throw new SyntaxError(`${where}: buckets out of order`);
        if (b.value < previous) throw new SyntaxError(`${where}: buckets not cumulative`);
        previousLe = le;
        previous = b.value;
      }
      if (previousLe !== Infinity) throw new SyntaxError(`${where}: no +Inf bucket`);
      if (previous !== entry.count) throw new SyntaxError(`${where}: +Inf bucket is not _count`);
    }
  }
}

/** Every family of `text`, by name; throws `SyntaxError` at the first departure. */
export function parsePrometheusText(text: string): Map<string, ParsedFamily> {
  const families = new Map<string, ParsedFamily>();
  const seen = new Set<string>();
  const helps = new Map<string, string>();
  if (text !== "" && !text.endsWith("\n")) throw new SyntaxError("The text must end with \\n");
  const lines = text.split("\n").slice(0, -1);
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === "") return;
    if (raw.startsWith("#")) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(raw);
      if (m === null) return; // A plain comment.
      const [, keyword, name, rest = ""] = m;
      if (!NAME.test(name!)) throw new SyntaxError(`Line ${line}: bad metric name "${name}"`);
      if (keyword === "HELP") {
        if (helps.has(name!)) throw new SyntaxError(`Line ${line}: second HELP for ${name}`);
        helps.set(name!, rest.replaceAll("\\n", "\n").replaceAll("\\\\", "\\"));
        const family = families.get(name!);
        if (family) family.help = helps.get(name!)!;
        return;
      }
      if (!TYPES.has(rest)) throw new SyntaxError(`Line ${line}: unknown type "${rest}"`);
      if (families.has(name!)) throw new SyntaxError(`Line ${line}: second TYPE for ${name}`);
      families.set(name!, {
        name: name!,
        type: rest as ParsedFamily["type"],
        help: helps.get(name!) ?? "",
        samples: [],
      });
      return;
    }
    const nameEnd = raw.search(/[{ ]/);
    if (nameEnd <= 0) throw new SyntaxError(`Line ${line}: no sample name`);
    const name = raw.slice(0, nameEnd);
    if (!NAME.test(name)) throw new SyntaxError(`Line ${line}: bad metric name "${name}"`);
    let labels: Record<string, string> = {};
    let at = nameEnd;
    if (raw[at] === "{") ({ labels, end: at } = parseLabels(raw, at, line));
    if (raw[at] !== " ") throw new SyntaxError(`Line ${line}: expected a space before the value`);
    const parts = raw.slice(at + 1).split(" ");
    if (parts.length > 2 || parts[0] === "") {
      throw new SyntaxError(`Line ${line}: expected "value [timestamp]"`);
    }
    const value = parseValue(parts[0]!, line);
    const family = familyOf(name, families);
    if (family === undefined) {
      throw new SyntaxError(`Line ${line}: ${name} has no # TYPE before it`);
    }
    const key = name + JSON.stringify(Object.entries(labels).sort());
    if (seen.has(key)) throw new SyntaxError(`Line ${line}: series ${key} twice`);
    seen.add(key);
    family.samples.push({ name, labels, value });
  });
  checkHistograms(families.values());
  return families;
}

/** The value of the one sample of `name` whose labels include `labels`, or undefined. */
export function sampleValue(
  families: Map<string, ParsedFamily>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const family = familyOf(name, families);
  const matches =
    family?.samples.filter((s) =>
      s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
    ) ?? [];
  if (matches.length > 1) throw new Error(`${name} ${JSON.stringify(labels)}: several samples`);
  return matches[0]?.value;
}
