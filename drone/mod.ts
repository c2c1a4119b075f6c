/**
 * @module
 * The drone (plane-0.5.md §6.4): runs backends on one machine through an `Executor`, keeps
 * their states in a durable SQLite outbox, and follows a controller's actions over the drone
 * socket. Construct with explicit dependencies; `run(signal)` until the signal aborts.
 */
import { type Logger, randomDroneName } from "../shared/mod.ts";
import type { Executor } from "./executor/mod.ts";
import type { StateStore } from "./state_store.ts";
import { type Clock, systemClock } from "./clock.ts";
import { DroneCore, type DroneMetricsSnapshot } from "./drone.ts";
import {
  type ControllerLinkOptions,
  type LinkStatus,
  runControllerLink,
} from "./controller_link.ts";

export interface DroneDeps {
  executor: Executor;
  store: StateStore;
  log: Logger;
  clock?: Clock;
  link: Omit<ControllerLinkOptions, "name"> & { name?: string | undefined };
}

export interface Drone {
  readonly name: string;
  /** The state machine and its backends, for tests that inspect them; callers use the methods. */
  readonly core: DroneCore;
  readonly status: LinkStatus;
  /** Sweeps leftovers, then stays connected to the controller until `signal` aborts. */
  run(signal: AbortSignal): Promise<void>;
  /**
   * Hard-terminates every live backend and waits (up to `timeoutMs`) until each is recorded
   * `terminated`; resolves to how many there were (`plane dev`'s Ctrl-C leaves nothing running).
   */
  terminateAll(timeoutMs?: number): Promise<number>;
  /** What the drone's `/metrics` shows: live backends by status, their samples, spawn times. */
  metricsSnapshot(): DroneMetricsSnapshot;
}

export function createDrone(deps: DroneDeps): Drone {
  const clock = deps.clock ?? systemClock;
  const name = deps.link.name ?? randomDroneName();
  const core = new DroneCore({ executor: deps.executor, store: deps.store, clock, log: deps.log });
  const status: LinkStatus = { connected: false, connections: 0 };
  return {
    name,
    core,
    status,
    async run(signal) {
      await core.sweepLeftovers();
      try {
        await runControllerLink(core, { ...deps.link, name }, {
          log: deps.log.child("link"),
          clock,
          signal,
          status,
        });
      } finally {
        core.close();
      }
    },
    terminateAll(timeoutMs) {
      return core.terminateAll(timeoutMs);
    },
    metricsSnapshot() {
      return core.metricsSnapshot();
    },
  };
}

// What the CLI and the other roles use from this folder (style.md §3: mod.ts is the door).
export { DroneConfig } from "./config.ts";
export type { DroneConfigInput } from "./config.ts";
export { droneFamilies } from "./metrics.ts";
export { StateStore } from "./state_store.ts";
