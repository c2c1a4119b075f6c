/**
 * Drives one backend through its lifecycle (plane-0.5.md §4.4): the thin effect runner
 * around the pure `backend_lifecycle.ts`. Setting a state persists it (the outbox reports it
 * to the controller), cancels the step in flight, and starts the step the new state asks for.
 */
import {
  type BackendName,
  type BackendState,
  Backoff,
  delay,
  type Logger,
  type TerminationKind,
  type TerminationReason,
} from "../shared/mod.ts";
import type { Executor, SpawnRequest } from "./executor/mod.ts";
import {
  nextStep,
  onExit,
  onStepResult,
  onTerminate,
  type StepResult,
} from "./backend_lifecycle.ts";

/** Retry delays of a failing terminate (plane-0.5.md §4.4: 1 s × 1.1 up to 60 s). */
const RETRY_INITIAL_MS = 1_000;
const RETRY_FACTOR = 1.1;
const RETRY_MAX_MS = 60_000;

/** The terminated state's `error` after a startup timeout (issue 12). */
const STARTUP_TIMEOUT_ERROR =
  "did not answer HTTP on its port within the drone's --startup-timeout-seconds";

/** An executor failure as the `error` text users see: the message, without the class name. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export interface BackendManagerDeps {
  executor: Executor;
  /** Persists and reports a state (the drone's state store). */
  record(backendId: BackendName, state: BackendState): void;
  log: Logger;
}

export class BackendManager {
  readonly backendId: BackendName;
  #state: BackendState;
  #step: AbortController | null = null;
  #deps: BackendManagerDeps;
  #request: SpawnRequest;
  #done: Promise<void>;
  #resolveDone!: () => void;

  constructor(request: SpawnRequest, deps: BackendManagerDeps) {
    this.backendId = request.backendId;
    this.#request = request;
    this.#deps = deps;
    this.#state = { status: "scheduled" };
    this.#done = new Promise((resolve) => (this.#resolveDone = resolve));
  }

  get state(): BackendState {
    return this.#state;
  }

  /** Resolves once the backend is `terminated`. */
  get done(): Promise<void> {
    return this.#done;
  }

  /**
   * Starts the lifecycle at `scheduled` (the drone records it too; the controller ignores the
   * repeat, plane-0.5.md §4.4).
   */
  start(): void {
    this.#set({ status: "scheduled" });
  }

  terminate(kind: TerminationKind, reason: TerminationReason): void {
    const next = onTerminate(this.#state, kind, reason);
    if (next) this.#set(next);
  }

  /** The runtime reported the backend's exit. */
  exited(exitCode: number | null): void {
    const next = onExit(this.#state, exitCode);
    if (next) this.#set(next);
  }

  /** Stops any step in flight without changing state (drone shutdown). */
  stop(): void {
    this.#step?.abort();
    this.#step = null;
  }

  #set(state: BackendState): void {
    this.#step?.abort();
    this.#step = null;
    this.#state = state;
    this.#deps.record(this.backendId, state);
    if (state.status === "terminated") {
      this.#resolveDone();
      return;
    }
    const step = nextStep(state);
    if (step === null) return;
    if (step.kind === "advance") {
      this.#set(step.to);
      return;
    }
    const controller = new AbortController();
    this.#step = controller;
    const { signal } = controller;
    const apply = (result: StepResult) => {
      // A result for a state we already left is stale: the transition cancelled it.
      if (signal.aborted) return;
      const next = onStepResult(this.#state, result);
      if (next) this.#set(next);
    };
    const { executor, log } = this.#deps;
    const id = this.backendId;
    switch (step.kind) {
      case "prepare":
        executor.prepare(this.#request.executable, { signal }).then(
          () => apply({ kind: "prepared" }),
          (err) => {
            log.warn("Prepare failed", { backend: id, err });
            apply({ kind: "prepare_failed", error: errorText(err) });
          },
        );
        break;
      case "spawn":
        executor.spawn(this.#request, { signal }).then(
          ({ address }) => apply({ kind: "spawned", address }),
          (err) => {
            log.warn("Spawn failed", { backend: id, err });
            apply({ kind: "spawn_failed", error: errorText(err) });
          },
        );
        break;
      case "wait_ready":
        executor.waitForReady(id, step.address, { signal }).then(
          (result) =>
            apply(
              result === "ready"
                ? { kind: "ready" }
                : { kind: "startup_timeout", error: STARTUP_TIMEOUT_ERROR },
            ),
          (err) => {
            if (signal.aborted) return;
            log.warn("Readiness check failed", { backend: id, err });
            apply({ kind: "wait_failed", error: errorText(err) });
          },
        );
        break;
      case "terminate":
        this.#terminateLoop(step.hard, signal).then((running) => {
          if (running !== null) apply({ kind: "terminate_sent", running });
        });
        break;
    }
  }

  /** Retries a failing terminate with backoff until it succeeds or the state moves on. */
  async #terminateLoop(hard: boolean, signal: AbortSignal): Promise<boolean | null> {
    const backoff = new Backoff({
      initialMs: RETRY_INITIAL_MS,
      maxMs: RETRY_MAX_MS,
      factor: RETRY_FACTOR,
    });
    while (!signal.aborted) {
      try {
        return await this.#deps.executor.terminate(this.backendId, { hard });
      } catch (err) {
        const wait = backoff.next();
        this.#deps.log.warn("Terminate failed; retrying", {
          backend: this.backendId,
          err,
          delay: wait,
        });
        await delay(wait, { signal });
      }
    }
    return null;
  }
}
