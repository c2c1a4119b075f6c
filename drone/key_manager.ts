/**
 * Key lease renewal on the drone (plane-0.5.md §5.5): for each backend, ask the controller to
 * renew at `renew_at`; if no renewal arrives, soft-terminate (`keyexpired`) at
 * `soft_terminate_at` and hard-terminate at `hard_terminate_at` — all on the drone's clock, so a
 * drone cut off from every controller stops its backends before the key can be reassigned.
 */
import type { BackendName, KeyDeadlines, TerminationKind } from "../shared/mod.ts";
import type { Clock } from "./clock.ts";

export interface KeyManagerDeps {
  clock: Clock;
  /** Sends `RenewKey` on the current controller connection; false when there is none. */
  renew(backendId: BackendName, localTime: number): boolean;
  terminate(backendId: BackendName, kind: TerminationKind): void;
}

interface KeyTask {
  deadlines: KeyDeadlines;
  cancel: (() => void)[];
}

export class KeyManager {
  #deps: KeyManagerDeps;
  #tasks = new Map<BackendName, KeyTask>();

  constructor(deps: KeyManagerDeps) {
    this.#deps = deps;
  }

  /**
   * Registers a backend's key; false if it was already registered (a repeated Spawn, plane-0.5.md
   * §5.5 step 7).
   */
  register(backendId: BackendName, deadlines: KeyDeadlines): boolean {
    if (this.#tasks.has(backendId)) return false;
    this.#schedule(backendId, deadlines);
    return true;
  }

  /** A `RenewKeyResponse` with new deadlines restarts the cycle. */
  renewed(backendId: BackendName, deadlines: KeyDeadlines): void {
    if (!this.#tasks.has(backendId)) return;
    this.#schedule(backendId, deadlines);
  }

  /**
   * A new controller connection: restart every task with unchanged deadlines (plane-0.5.md §5.5
   * step 6).
   */
  reconnected(): void {
    for (const [id, task] of this.#tasks) this.#schedule(id, task.deadlines);
  }

  /** The backend is terminated: forget its key. */
  unregister(backendId: BackendName): void {
    const task = this.#tasks.get(backendId);
    if (!task) return;
    for (const cancel of task.cancel) cancel();
    this.#tasks.delete(backendId);
  }

  has(backendId: BackendName): boolean {
    return this.#tasks.has(backendId);
  }

  close(): void {
    for (const id of [...this.#tasks.keys()]) this.unregister(id);
  }

  #schedule(backendId: BackendName, deadlines: KeyDeadlines) {
    const old = this.#tasks.get(backendId);
    if (old) { for (const cancel of old.cancel) cancel(); }
    const { clock } = this.#deps;
    const task: KeyTask = { deadlines, cancel: [] };
    this.#tasks.set(backendId, task);
    const renewAt = Math.max(deadlines.renew_at, clock.now());
    task.cancel.push(
      clock.at(renewAt, () => this.#deps.renew(backendId, clock.now())),
      clock.at(deadlines.soft_terminate_at, () => this.#deps.terminate(backendId, "soft")),
      clock.at(deadlines.hard_terminate_at, () => this.#deps.terminate(backendId, "hard")),
    );
  }
}
