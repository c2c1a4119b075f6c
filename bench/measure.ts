/**
 * What every benchmark here reads off its child processes and prints: CPU time and RSS from
 * `/proc`, medians and min–max spreads of rounds, a child's stdout lines, and unbuffered output
 * lines (progress must show while a long run is under way).
 *
 * @module
 */

const encoder = new TextEncoder();

/** Writes one line to stdout at once. */
export function out(line: string): void {
  const bytes = encoder.encode(line + "\n");
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
const CLOCK_TICKS = 100;

/** CPU seconds a process has used (all its threads), or NaN when it cannot be read. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the parenthesised command name (which may contain spaces): utime and
    // stime are fields 14 and 15, i.e. the 12th and 13th after it.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

/** A process's resident memory in KiB (`VmRSS`), or NaN when it cannot be read. */
export function rssKiB(pid: number): number {
  try {
    const m = Deno.readTextFileSync(`/proc/${pid}/status`).match(/VmRSS:\s+(\d+) kB/);
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** Median of the finite values; NaN when there are none. */
export function median(xs: number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** "min–max" of the finite values with `digits` decimals; "n/a" when there are none. */
export function spread(xs: number[], digits: number): string {
  const s = xs.filter(Number.isFinite);
  return s.length === 0
    ? "n/a"
    : `${Math.min(...s).toFixed(digits)}–${Math.max(...s).toFixed(digits)}`;
}

/** A child's stdout, line by line. */
export async function* linesOf(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true });
    let i;
    while ((i = pending.indexOf("\n")) !== -1) {
      yield pending.slice(0, i);
      pending = pending.slice(i + 1);
    }
  }
}
