/**
 * Text Postgres can store. A `text`/`varchar` value may not contain NUL (`\u0000`), and `jsonb`
 * refuses `\u0000` escapes and unpaired UTF-16 surrogates anywhere inside (keys included); such
 * input used to reach the database and come back as a 500 (issue 10, finding 7). These checks
 * refuse it at the boundary with the path of the offending field instead.
 */
import { z } from "zod";

/** Why `value` cannot be stored as Postgres text, or null when it can. */
export function textError(value: string): string | null {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 0) return `must not contain NUL (\\u0000) (at position ${i})`;
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      return `must not contain a lone surrogate (\\u${hex(code)} at position ${i})`;
    }
    if (code >= 0xdc00 && code <= 0xdfff) {
      return `must not contain a lone surrogate (\\u${hex(code)} at position ${i})`;
    }
  }
  return null;
}

function hex(code: number): string {
  return code.toString(16).toUpperCase().padStart(4, "0");
}

/** The first string (value or object key) under `value` that `textError` refuses, with its path. */
export function jsonTextError(
  value: unknown,
): { path: (string | number)[]; message: string } | null {
  // Iterative, so a deep value cannot overflow the stack (bodies are depth-bounded anyway).
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value, path: [] }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    const v = item.value;
    if (typeof v === "string") {
      const error = textError(v);
      if (error) return { path: item.path, message: error };
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], path: [...item.path, i] });
    } else if (typeof v === "object" && v !== null) {
      const entries = Object.entries(v);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i]!;
        const error = textError(key);
        if (error) return { path: [...item.path, key], message: `key ${error}` };
        stack.push({ value: child, path: [...item.path, key] });
      }
    }
  }
  return null;
}

/** A string Postgres can store as text. */
export const SafeText = z.string().superRefine((value, ctx) => {
  const error = textError(value);
  if (error) ctx.addIssue({ code: "custom", message: error });
});

/** A JSON object stored as `jsonb` (`auth`, `executable`): every key and string must be storable. */
export const SafeJsonObject = z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
  const found = jsonTextError(value);
  if (found) ctx.addIssue({ code: "custom", path: found.path, message: found.message });
});
