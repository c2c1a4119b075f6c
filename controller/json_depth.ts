/**
 * A bound on JSON nesting, checked on the raw text before `JSON.parse` (issue 10, finding 7):
 * `executable` nested 10,000 deep made schema checks and serialisation throw `RangeError`, and
 * `auth` 50,000 deep exceeded Postgres's stack depth in `jsonb` input; both were 500s. No request
 * body of the API needs more than a few levels.
 */

/** Deepest `[`/`{` nesting a request body may have. */
export const MAX_JSON_DEPTH = 64;

/**
 * The nesting depth at which `text` first exceeds `maxDepth`, or null when it stays within it.
 * Brackets inside strings (with their escapes) do not count. Does not validate the JSON.
 */
export function jsonDepthExceeded(text: string, maxDepth: number = MAX_JSON_DEPTH): number | null {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // `\`: the next character is escaped (`\"`, `\\`).
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return depth;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return null;
}
