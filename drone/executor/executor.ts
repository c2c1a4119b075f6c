/**
 * The runtime contract a drone drives (style.md §9, shaped like Plane's `Runtime`, plane-0.5.md
 * §3): Docker, local processes and a fake implement it, and one conformance suite
 * (`conformance.ts`) runs against each.
 */
import type { AcquiredKey, BackendMetricsMessage, BackendName } from "../../shared/mod.ts";

/** The spawn's `executable` object, opaque JSON until a runtime parses it. */
export type Executable = Record<string, unknown>;

export interface SpawnRequest {
  backendId: BackendName;
  executable: Executable;
  key: AcquiredKey;
  staticToken: string | null;
}

export interface ExitEvent {
  backendId: BackendName;
  /** Exit status, or null when the runtime cannot tell. */
  exitCode: number | null;
}

export type ReadyResult = "ready" | "timeout";

/** What a start-up sweep did with what a previous run of the drone left (issue 11). */
export interface SweepResult {
  /** Backends whose leftover process or container was killed or removed. */
  killed: BackendName[];
  /** Backends whose leftover had ended already. */
  gone: BackendName[];
  /** Backends whose leftover could not be checked or removed (kept for a later sweep). */
  failed: { backendId: BackendName; error: string }[];
}

export interface Executor {
  /** Makes the executable runnable (pulls an image, checks a mapping). Throws when it cannot be. */
  prepare(executable: Executable, options?: { signal?: AbortSignal }): Promise<void>;
  /** Starts the backend and returns the `ip:port` proxies reach it on. */
  spawn(request: SpawnRequest, options?: { signal?: AbortSignal }): Promise<{ address: string }>;
  /**
   * Asks the backend to stop (soft: SIGTERM then SIGKILL after the grace period; hard: SIGKILL).
   * Returns false when it was not running (already gone or unknown), true when an exit event
   * will follow.
   */
  terminate(backendId: BackendName, options: { hard: boolean }): Promise<boolean>;
  /** Resolves when the backend answers HTTP at `address`, or "timeout" after the startup limit. */
  waitForReady(
    backendId: BackendName,
    address: string,
    options?: { signal?: AbortSignal },
  ): Promise<ReadyResult>;
  /** Registers the exit listener; every backend that exits after `spawn` is reported once. */
  onExit(listener: (event: ExitEvent) => void): void;
  /** Registers a listener for every complete line any backend writes, as it is written. */
  onLog(listener: (backendId: BackendName, line: LogLine) => void): void;
  /** The last lines a backend wrote (bounded tail), oldest first. */
  logs(backendId: BackendName): LogLine[];
  /**
   * One resource sample of a running backend (plane-0.5.md §3.8): memory in bytes, CPU as
   * nanoseconds used since the previous sample; null when it is not running.
   */
  metrics(backendId: BackendName): Promise<BackendMetricsMessage | null>;
  /**
   * At start-up, before any spawn: kills or removes what a previous run of this drone left
   * that the runtime can find by itself (pid files, labelled containers), including backends
   * the state store no longer lists. Runtimes with nothing to find leave it out.
   */
  sweep?(): Promise<SweepResult>;
  close(): Promise<void>;
}

export interface LogLine {
  stream: "stdout" | "stderr";
  text: string;
  time: number;
}

/** Environment every backend gets, after the user's so ours win (plane-0.5.md §3.3). */
export function planeEnv(
  request: SpawnRequest,
  port: number,
): Record<string, string> {
  const env: Record<string, string> = {
    PORT: String(port),
    SESSION_BACKEND_ID: request.backendId,
    SESSION_BACKEND_FENCING_TOKEN: String(request.key.token),
    SESSION_BACKEND_KEY: request.key.key.name,
  };
  if (request.staticToken) env.SESSION_BACKEND_STATIC_TOKEN = request.staticToken;
  return env;
}
