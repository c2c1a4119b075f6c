/**
 * What identifies a local backend's process across drone restarts (issue 11, finding 2): its
 * pid, process group and start time (`/proc/<pid>/stat` field 22, clock ticks since boot). A
 * pid alone is not enough (pids are recycled), and the backend's environment cannot be read
 * under the drone's own permissions (Deno answers `NotCapable` for `/proc/<pid>/environ`, and
 * for every other `/proc` file, without `--allow-all`). The pure parts are here; reading
 * `/proc/<pid>/stat` goes through `cat`, which `--allow-run` permits, so the drone takes one
 * path whether it runs with `--allow-all` (tests) or without (users).
 */
import { z } from "zod";

export interface ProcessIdentity {
  pid: number;
  /** Process group the backend leads (it is started detached, so normally `pid`). */
  pgid: number;
  /** Start time in clock ticks since boot; null when it could not be read at spawn. */
  startTime: number | null;
}

/** The fields of `/proc/<pid>/stat` the identity check uses. */
export interface ProcStat {
  pgid: number;
  startTime: number;
  /** Exited, not yet reaped by its parent (state `Z` or `X`): its pid is not reused yet. */
  zombie: boolean;
}

/**
 * Parses `/proc/<pid>/stat` (proc(5)): the command name (field 2) is in parentheses and may
 * itself contain spaces or parentheses, so fields are counted after its last `)`. Null when the
 * text is not a stat line.
 */
export function parseProcStat(text: string): ProcStat | null {
  const close = text.lastIndexOf(")");
  if (close < 0) return null;
  // Field 3 (state) is the first after ") "; pgid is field 5, starttime field 22.
  const fields = text.slice(close + 2).trim().split(" ");
  const pgid = Number(fields[5 - 3]);
  const startTime = Number(fields[22 - 3]);
  if (!Number.isSafeInteger(pgid) || !Number.isSafeInteger(startTime) || fields.length < 20) {
    return null;
  }
  const state = fields[0];
  return { pgid, startTime, zombie: state === "Z" || state === "X" };
}

const PidFile = z.object({
  pid: z.number().int().positive(),
  pgid: z.number().int().positive(),
  startTime: z.number().int().nonnegative().nullable(),
});

export function formatPidFile(identity: ProcessIdentity): string {
  const { pid, pgid, startTime } = identity;
  return JSON.stringify({ pid, pgid, startTime });
}

/**
 * Reads a pid file: the JSON identity, or a bare pid (written by earlier versions, which
 * recorded no start time). Null when it is neither.
 */
export function parsePidFile(text: string): ProcessIdentity | null {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) {
    const pid = Number(trimmed);
    return pid > 1 ? { pid, pgid: pid, startTime: null } : null;
  }
  try {
    const parsed = PidFile.safeParse(JSON.parse(trimmed));
    return parsed.success && parsed.data.pid > 1 && parsed.data.pgid > 1 ? parsed.data : null;
  } catch {
    return null;
  }
}

/**
 * What to do with a pid file's process, given what `/proc/<pid>/stat` says now (null: no such
 * process). `kill`: the same process still runs; `gone`: it ended (its pid may have been
 * recycled, which the start time tells); `unverifiable`: no start time was recorded, so the
 * process cannot be told from a stranger and must not be signalled.
 */
export type LeftoverVerdict = "kill" | "gone" | "unverifiable";

export function leftoverVerdict(recorded: ProcessIdentity, now: ProcStat | null): LeftoverVerdict {
  if (now === null) return "gone";
  if (recorded.startTime === null) return "unverifiable";
  return now.startTime === recorded.startTime ? "kill" : "gone";
}

/**
 * `/proc/<pid>/stat` of a process, or null when there is no such process. Any other failure
 * (no `cat`, no permission to run it, an unexpected message) throws: it never reads as "gone".
 */
export async function readProcStat(pid: number): Promise<ProcStat | null> {
  const output = await new Deno.Command("cat", {
    args: [`/proc/${pid}/stat`],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (output.success) {
    const text = new TextDecoder().decode(output.stdout);
    const stat = parseProcStat(text);
    if (stat === null) throw new Error(`Cannot parse /proc/${pid}/stat: ${JSON.stringify(text)}`);
    return stat;
  }
  const message = new TextDecoder().decode(output.stderr).trim();
  // ENOENT: no such pid. ESRCH: the pid's /proc entry is still listed while the process is
  // being torn down (read between SIGKILL and reaping); either way it no longer runs.
  if (/No such file or directory|No such process/.test(message)) return null;
  throw new Error(`Cannot read /proc/${pid}/stat: cat exited ${output.code}: ${message}`);
}
