/**
 * An upgraded connection (RFC 9110 §7.8, a 101 from the backend): from here on both sockets
 * are spliced and bytes pass untouched, with backpressure both ways. It takes over the client
 * connection and the upstream connection from the exchange that saw the 101, and keeps only
 * what splicing needs: tens of thousands of tunnels may be open.
 */
import type { Buffer } from "node:buffer";
import type { ClientConnection } from "./_client.ts";
import type { Core } from "./_core.ts";
import type { UpstreamConnection, UpstreamOwner } from "./_upstream.ts";

/** Client pause reasons (a bit each). */
export const PAUSE_UPSTREAM = 1;
export const PAUSE_BUFFER = 2;

export class Tunnel implements UpstreamOwner {
  #client: ClientConnection;
  #up: UpstreamConnection | null;
  #core: Core;
  #release: (() => void) | null;
  #closed = false;

  constructor(
    client: ClientConnection,
    up: UpstreamConnection,
    core: Core,
    release: (() => void) | null,
  ) {
    this.#client = client;
    this.#up = up;
    this.#core = core;
    this.#release = release;
    up.owner = this;
    core.stats.upgrades++;
  }

  // Upstream → client.

  onUpstreamData(chunk: Buffer): void {
    if (!this.#client.stream.write(chunk)) this.#up?.pause();
  }

  onUpstreamEnd(): void {
    this.#client.stream.end();
  }

  onUpstreamClose(): void {
    this.#up = null;
    this.#client.destroy();
  }

  onUpstreamDrain(): void {
    this.#client.resume(PAUSE_UPSTREAM);
  }

  // Client → upstream.

  write(chunk: Buffer): void {
    const up = this.#up;
    if (up !== null && !up.write(chunk)) this.#client.pause(PAUSE_UPSTREAM);
  }

  end(): void {
    this.#up?.stream.end();
  }

  onClientDrain(): void {
    this.#up?.resume();
  }

  /** The client connection closed: the tunnel is over (called once). */
  closed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#core.stats.upgrades--;
    const release = this.#release;
    const up = this.#up;
    this.#up = null;
    up?.destroy();
    this.#release = null;
    release?.();
  }
}
