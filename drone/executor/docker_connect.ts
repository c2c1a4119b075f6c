/**
 * Opens dockerode on the local engine (honours `DOCKER_HOST`, else the default socket). The
 * only file that imports dockerode: its bundled types pull an old `@types/node` that would
 * hide `node:sqlite`, so it is typed here through our narrow `DockerApi`.
 */
import Docker from "dockerode";
import type { DockerApi } from "./docker_api.ts";

export interface LocalDocker extends DockerApi {
  ping(): Promise<unknown>;
}

export function connectDocker(): LocalDocker {
  // deno-lint-ignore no-explicit-any
  return new (Docker as any)() as LocalDocker;
}
