/**
 * One pid file per running local backend (`<stateDir>/<backend>.pid`), so a restarted drone
 * can kill the process groups its previous run left (they are detached and outlive a killed
 * drone). Issue 11, finding 2: a file records the process's identity (`process_identity.ts`),
 * a group is killed only when that very process still runs, and a failure to check is
 * reported and keeps the file — it is never read as "gone".
 */
import { type BackendName, delay, type Logger } from "../../shared/mod.ts";
import type { SweepResult } from "./executor.ts";
import {
  formatPidFile,
  leftoverVerdict,
  parsePidFile,
  type ProcessIdentity,
  readProcStat,
} from "./process_identity.ts";

/** Checks (every `KILL_CHECK_MS`) that a killed leftover is gone before reporting it killed. */
const KILL_CHECKS = 50;
const KILL_CHECK_MS = 20;

/** Why a pid file without a start time is not acted on, and what the operator can do. */
export const UNVERIFIABLE = "its pid file has no start time, so the process cannot be told " +
  "from a stranger; kill it by hand if it runs, then delete the pid file";

export type LeftoverOutcome = "none" | "killed" | "gone" | "unverifiable";

/** SIGKILLs a leftover's process group; "no such process" is fine, anything else throws. */
function killGroup(pgid: number) {
  try {
    Deno.kill(-pgid, "SIGKILL");
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

export class PidFiles {
  readonly #dir: string;
  readonly #log: Logger | null;

  constructor(dir: string, log: Logger | null = null) {
    this.#dir = dir;
    this.#log = log;
  }

  path(backendId: BackendName): string {
    return `${this.#dir}/${backendId}.pid`;
  }

  /**
   * Writes the identity of a just-spawned backend process: pid, group and start time. Without
   * a readable start time the file still names the process, which a later sweep then reports
   * rather than signals.
   */
  async record(backendId: BackendName, pid: number): Promise<void> {
    const identity: ProcessIdentity = { pid, pgid: pid, startTime: null };
    try {
      const stat = await readProcStat(pid);
      // Null: the process exited already; its exit handler removes the file.
      if (stat) Object.assign(identity, { pgid: stat.pgid, startTime: stat.startTime });
    } catch (err) {
      this.#log?.error("Cannot record a backend process's start time", { backend: backendId, err });
    }
    try {
      await Deno.mkdir(this.#dir, { recursive: true });
      await Deno.writeTextFile(this.path(backendId), formatPidFile(identity));
    } catch (err) {
      this.#log?.error("Cannot write a backend's pid file", {
        backend: backendId,
        path: this.path(backendId),
        err,
      });
    }
  }

  remove(backendId: BackendName): void {
    try {
      Deno.removeSync(this.path(backendId));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        this.#log?.error("Cannot remove a backend's pid file", {
          backend: backendId,
          path: this.path(backendId),
          err,
        });
      }
    }
  }

  /**
   * Kills the process group a previous drone run started for `backendId`, if that very process
   * still runs (pid, group and start time as recorded), and removes the pid file. A process
   * that cannot be told from a stranger is left alone and its pid file kept ("unverifiable").
   * Anything unexpected (no permission to read or signal) throws and keeps the pid file.
   */
  async killLeftover(backendId: BackendName): Promise<LeftoverOutcome> {
    const path = this.path(backendId);
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return "none";
      throw err;
    }
    const recorded = parsePidFile(text);
    if (recorded === null) {
      throw new Error(`Cannot read pid file ${path}: not a pid or process identity`);
    }
    const verdict = leftoverVerdict(recorded, await readProcStat(recorded.pid));
    if (verdict === "unverifiable") return verdict;
    if (verdict === "kill") {
      killGroup(recorded.pgid);
      // Wait until the leader has died (a zombie waiting for its new parent to reap it counts),
      // so the sweep reports what really happened.
      for (let i = 0; i < KILL_CHECKS; i++) {
        const now = await readProcStat(recorded.pid);
        if (now === null || now.zombie || leftoverVerdict(recorded, now) === "gone") break;
        await delay(KILL_CHECK_MS);
      }
    }
    this.remove(backendId);
    return verdict === "kill" ? "killed" : "gone";
  }

  /** Kills the leftover of every pid file whose backend `isRunning` does not claim. */
  async sweep(isRunning: (backendId: BackendName) => boolean): Promise<SweepResult> {
    const result: SweepResult = { killed: [], gone: [], failed: [] };
    const ids: BackendName[] = [];
    try {
      for await (const entry of Deno.readDir(this.#dir)) {
        if (entry.isFile && entry.name.endsWith(".pid")) {
          ids.push(entry.name.slice(0, -".pid".length) as BackendName);
        }
      }
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return result;
      throw err;
    }
    for (const backendId of ids) {
      if (isRunning(backendId)) continue;
      try {
        const outcome = await this.killLeftover(backendId);
        if (outcome === "killed") result.killed.push(backendId);
        else if (outcome === "unverifiable") result.failed.push({ backendId, error: UNVERIFIABLE });
        else result.gone.push(backendId);
      } catch (err) {
        result.failed.push({ backendId, error: err instanceof Error ? err.message : String(err) });
      }
    }
    return result;
  }
}
