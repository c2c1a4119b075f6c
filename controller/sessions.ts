/** The drone and proxy sockets this controller instance currently holds. */
import type { MessageToDrone, MessageToProxy } from "../shared/mod.ts";

export interface DroneSession {
  readonly nodeId: number;
  readonly name: string;
  readonly cluster: string;
  send(message: MessageToDrone): void;
}

export interface ProxySession {
  readonly nodeId: number;
  readonly name: string;
  readonly cluster: string;
  send(message: MessageToProxy): void;
}

export class Sessions {
  readonly drones: Map<number, DroneSession> = new Map();
  readonly proxies: Map<number, ProxySession> = new Map();

  /**
   * Proxies of one cluster (BackendRemoved and TokenRevoked go only there, decisions.md §2.4,
   * §2.15).
   */
  proxiesOf(cluster: string): ProxySession[] {
    return [...this.proxies.values()].filter((p) => p.cluster === cluster);
  }
}
