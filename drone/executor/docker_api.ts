/**
 * The Docker seam (style.md §8): the narrow slice of dockerode the Docker runtime calls, so the
 * executor, the pulls and the tests depend on these methods rather than on the package.
 */
import type { DockerStats } from "./docker_metrics.ts";

/** The dockerode methods this runtime calls; dockerode's `Docker` satisfies it. */
export interface DockerApi {
  getImage(name: string): { inspect(): Promise<unknown> };
  getNetwork(name: string): { inspect(): Promise<{ Name?: string }> };
  pull(name: string, options: Record<string, unknown>): Promise<NodeJS.ReadableStream>;
  modem: {
    followProgress(
      stream: NodeJS.ReadableStream,
      onFinished: (err: Error | null, output: unknown[]) => void,
    ): void;
  };
  createContainer(options: Record<string, unknown>): Promise<DockerContainer>;
  getContainer(id: string): DockerContainer;
  getEvents(options: Record<string, unknown>): Promise<NodeJS.ReadableStream>;
  pruneContainers(options: Record<string, unknown>): Promise<unknown>;
  listContainers(options: Record<string, unknown>): Promise<{ Names?: string[]; State?: string }[]>;
}

export interface DockerContainer {
  start(): Promise<unknown>;
  inspect(): Promise<{
    State: { Running: boolean };
    NetworkSettings: { Ports?: Record<string, { HostIp: string; HostPort: string }[] | null> };
  }>;
  stop(options: { t: number }): Promise<unknown>;
  kill(options?: Record<string, unknown>): Promise<unknown>;
  remove(options?: Record<string, unknown>): Promise<unknown>;
  logs(options: Record<string, unknown>): Promise<NodeJS.ReadableStream>;
  stats(options: { stream: false }): Promise<DockerStats>;
}

/** The HTTP status of a failed Docker API call (404: no such image or container). */
export function statusCode(err: unknown): number | undefined {
  if (typeof err === "object" && err !== null && "statusCode" in err) {
    return (err as { statusCode: number }).statusCode;
  }
  return undefined;
}
