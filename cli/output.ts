/**
 * What the CLI says to its user: plain text on stdout and stderr (logs go through
 * `shared/log.ts` instead; `no-console` keeps the two apart).
 */
const encoder = new TextEncoder();

function writeAll(file: { writeSync(p: Uint8Array): number }, text: string) {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
}

/** Writes `text` (plus a newline unless it ends with one) to stdout. */
export function print(text: string): void {
  writeAll(Deno.stdout, text.endsWith("\n") ? text : `${text}\n`);
}

/** Writes `text` (plus a newline unless it ends with one) to stderr. */
export function printError(text: string): void {
  writeAll(Deno.stderr, text.endsWith("\n") ? text : `${text}\n`);
}
