/**
 * Memory and CPU of one process, for the local runtime's metrics (plane-0.5.md §3.8). Read
 * from /proc when the drone may (Deno asks for `--allow-all` to read `/proc/<pid>/*`, which
 * `deno task plane` does not grant), otherwise from `ps` (`--allow-run`), which gives the
 * resident size and whole CPU seconds only.
 */

export interface ProcessUsage {
  /** Resident bytes, and their anonymous, file-backed and locked parts (0 when unknown). */
  rss: number;
  anon: number;
  file: number;
  locked: number;
  /** User + system CPU time in USER_HZ ticks (1/100 s). */
  cpuTicks: number;
}

/** `/proc/<pid>/status` and `/proc/<pid>/stat` → usage. */
export function parseProc(status: string, stat: string): ProcessUsage {
  const kb = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0) * 1024;
  // Fields after the command name: utime and stime are the 12th and 13th (USER_HZ = 100).
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return {
    rss: kb("VmRSS"),
    anon: kb("RssAnon"),
    file: kb("RssFile"),
    locked: kb("VmLck"),
    cpuTicks: Number(fields[11]) + Number(fields[12]),
  };
}

/** `ps -o rss=,times= -p PID` (KiB, CPU seconds) → usage; null when the process is gone. */
export function parsePs(output: string): ProcessUsage | null {
  const match = /^\s*(\d+)\s+(\d+)\s*$/.exec(output);
  if (!match) return null;
  return {
    rss: Number(match[1]) * 1024,
    anon: 0,
    file: 0,
    locked: 0,
    cpuTicks: Number(match[2]) * 100,
  };
}

export async function readProcessUsage(pid: number): Promise<ProcessUsage | null> {
  try {
    const [status, stat] = await Promise.all([
      Deno.readTextFile(`/proc/${pid}/status`),
      Deno.readTextFile(`/proc/${pid}/stat`),
    ]);
    return parseProc(status, stat);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotCapable)) return null;
  }
  try {
    const output = await new Deno.Command("ps", {
      args: ["-o", "rss=,times=", "-p", String(pid)],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    return output.success ? parsePs(new TextDecoder().decode(output.stdout)) : null;
  } catch {
    return null;
  }
}
