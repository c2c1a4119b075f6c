/**
 * The Docker runtime (plane-0.5.md §3) over a narrow slice of dockerode (style.md §8,
 * `docker_api.ts`): pull per policy (`docker_pull.ts`), create and start `plane-<id>` with the label and env of plane-0.5.md §3.3, find its
 * address, probe readiness, stop (SIGTERM, SIGKILL after 30 s) or kill after an inspect, turn
 * container `die`/`stop` events into exit events, keep a bounded log tail, prune stopped
 * containers. Metrics arithmetic is `docker_metrics.ts`; create options are `docker_config.ts`.
 */
import {
  type BackendMetricsMessage,
  type BackendName,
  delay,
  type Logger,
} from "../../shared/mod.ts";
import {
  type Executable,
  type Executor,
  type ExitEvent,
  type LogLine,
  type ReadyResult,
  type SpawnRequest,
  type SweepResult,
} from "./executor.ts";
import {
  backendIdOfContainer,
  CONTAINER_PORT,
  containerCreateOptions,
  containerName,
  DockerExecutable,
  type DockerRuntimeOptions,
  DRONE_LABEL,
  networkMode,
  PLANE_LABEL,
} from "./docker_config.ts";
import { type DockerApi, type DockerContainer, statusCode } from "./docker_api.ts";
import { metricsFromStats } from "./docker_metrics.ts";
import { pullImage } from "./docker_pull.ts";
import { freePort } from "./free_port.ts";
import { LogTail } from "./log_tail.ts";
import { EndedTails } from "./ended_tails.ts";
import { STARTUP_TIMEOUT_MS, waitForHttp } from "./readiness.ts";

export interface DockerExecutorOptions extends Omit<DockerRuntimeOptions, "hostNetworkPort"> {
  docker: DockerApi;
  log: Logger;
  /** Address proxies reach backends on (the drone's `--ip`). */
  ip?: string;
  /** Host networking with a drone-assigned port per backend (what tests here use). */
  hostNetwork?: boolean;
  /** `docker stop` timeout before SIGKILL (Plane: 30 s, plane-0.5.md §3.7). */
  stopTimeoutSeconds?: number;
  startupTimeoutMs?: number;
  /** Stopped containers older than this are pruned every minute (plane-0.5.md §3.8). */
  pruneMinAgeSeconds?: number;
}

export class DockerExecutor implements Executor {
  #o: DockerExecutorOptions;
  #listeners: ((event: ExitEvent) => void)[] = [];
  /** Tails of backends whose container runs; moved to `#ended` at its exit (issue 11, finding 5). */
  #tails = new Map<string, LogTail>();
  #ended = new EndedTails();
  #live = new Set<string>();
  #events: NodeJS.ReadableStream | null = null;
  #pruneTimer: ReturnType<typeof setInterval> | null = null;
  #closed = false;

  constructor(options: DockerExecutorOptions) {
    this.#o = options;
  }

  /** Subscribes to container events; call once before spawning. */
  async start(): Promise<void> {
    const stream = await this.#o.docker.getEvents({
      filters: { type: ["container"], event: ["die", "stop", "start"], label: [PLANE_LABEL] },
    });
    this.#events = stream;
    let buffer = "";
    stream.on("data", (chunk: Uint8Array | string) => {
      buffer += typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk);
      let end: number;
      while ((end = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, end).trim();
        buffer = buffer.slice(end + 1);
        if (line) this.#onDockerEvent(line);
      }
    });
    stream.on("error", (err: unknown) => {
      if (!this.#closed) this.#o.log.error("Docker event stream failed", { err });
    });
    this.#pruneTimer = setInterval(() => void this.prune(), 60_000);
  }

  #onDockerEvent(line: string) {
    let event: { Action?: string; Actor?: { Attributes?: Record<string, string> } };
    try {
      event = JSON.parse(line);
    } catch {
      return;
    }
    const name = event.Actor?.Attributes?.name;
    const backendId = name ? backendIdOfContainer(name) : null;
    if (!backendId || (event.Action !== "die" && event.Action !== "stop")) return;
    // The first of die/stop wins (plane-0.5.md §3.8); the other finds the backend already reported.
    if (!this.#live.delete(backendId)) return;
    this.#release(backendId);
    const code = event.Actor?.Attributes?.exitCode;
    const exit: ExitEvent = {
      backendId: backendId as BackendName,
      exitCode: code === undefined ? null : Number(code),
    };
    for (const listener of this.#listeners) listener(exit);
  }

  #parse(executable: Executable): DockerExecutable {
    const parsed = DockerExecutable.safeParse(executable);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new TypeError(`Invalid executable: ${issue?.path.join(".")}: ${issue?.message}`);
    }
    return parsed.data;
  }

  async prepare(executable: Executable): Promise<void> {
    const config = this.#parse(executable);
    await pullImage(this.#o.docker, config);
  }

  async spawn(request: SpawnRequest): Promise<{ address: string }> {
    const config = this.#parse(request.executable);
    const ip = this.#o.ip ?? "127.0.0.1";
    const hostPort = this.#o.hostNetwork ? freePort(ip) : undefined;
    const created = containerCreateOptions(request, config, {
      ...this.#o,
      hostNetworkPort: hostPort,
    });
    if (!created.ok) throw new RangeError(created.error);
    if (hostPort === undefined) await this.#checkNetwork(config.network_name);
    const container = await this.#o.docker.createContainer(created.options);
    this.#live.add(request.backendId);
    try {
      await container.start();
      this.#followLogs(request.backendId, container);
      if (hostPort !== undefined) return { address: `${ip}:${hostPort}` };
      // plane-0.5.md §3.3: read the published port, up to 3 tries 100 ms apart.
      for (let attempt = 0; attempt < 3; attempt++) {
        const info = await container.inspect();
        const binding = info.NetworkSettings.Ports?.[`${CONTAINER_PORT}/tcp`]?.[0];
        if (binding?.HostPort) return { address: `${ip}:${binding.HostPort}` };
        await delay(100);
      }
      throw new Error(`Container ${containerName(request.backendId)} has no published port`);
    } catch (err) {
      // Issue 11, finding 4: a spawn that fails after create removes what it created, or the
      // container runs on with its backend already `terminated`.
      await this.#removeFailed(request.backendId, container, err);
      throw err;
    }
  }

  async #removeFailed(backendId: BackendName, container: DockerContainer, cause: unknown) {
    this.#live.delete(backendId);
    this.#release(backendId);
    try {
      await container.remove({ force: true });
      this.#o.log.warn("Spawn failed after the container was created; removed it", {
        backend: backendId,
        err: cause,
      });
    } catch (err) {
      if (statusCode(err) === 404) return;
      this.#o.log.error(
        "Spawn failed after the container was created, and removing it failed too; the next " +
          "start-up sweep removes it",
        { backend: backendId, err, cause },
      );
    }
  }

  /** A backend ended: its live tail becomes an ended one (readable for a bounded time). */
  #release(backendId: string) {
    const tail = this.#tails.get(backendId);
    if (!tail) return;
    this.#tails.delete(backendId);
    this.#ended.add(backendId, tail);
  }

  /**
   * A user-defined `network_name` must exist and be named, not given by id (an id could name
   * the host network): issue 10, finding 8.
   */
  async #checkNetwork(name: string | null | undefined) {
    const network = networkMode(name, this.#o.allowNetworkModes);
    if (!network.ok) throw new RangeError(network.error);
    if (!network.mustExist) return;
    let info: { Name?: string };
    try {
      info = await this.#o.docker.getNetwork(network.mode!).inspect();
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
      throw new RangeError(
        `Cannot use executable.network_name "${name}": no such Docker network on this drone ` +
          `(create it with: docker network create ${name})`,
      );
    }
    if (info.Name !== name) {
      throw new RangeError(
        `Cannot use executable.network_name "${name}": it names network "${info.Name}" by id; ` +
          "use the network's name",
      );
    }
  }

  #followLogs(backendId: string, container: DockerContainer) {
    const tail = new LogTail();
    tail.onLine((line) => {
      for (const listener of this.#logListeners) listener(backendId as BackendName, line);
    });
    this.#tails.set(backendId, tail);
    container.logs({ follow: true, stdout: true, stderr: true }).then((stream) => {
      let pending = new Uint8Array(0);
      const decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
      stream.on("data", (chunk: Uint8Array) => {
        // Docker multiplexes both streams: 8-byte header (stream, 0, 0, 0, size u32 BE).
        const merged = new Uint8Array(pending.length + chunk.length);
        merged.set(pending);
        merged.set(chunk, pending.length);
        let offset = 0;
        while (merged.length - offset >= 8) {
          const size = new DataView(merged.buffer, merged.byteOffset + offset + 4, 4).getUint32(0);
          if (merged.length - offset - 8 < size) break;
          const name = merged[offset] === 2 ? "stderr" : "stdout";
          const payload = merged.subarray(offset + 8, offset + 8 + size);
          tail.write(name, decoders[name].decode(payload, { stream: true }));
          offset += 8 + size;
        }
        pending = merged.slice(offset);
      });
      stream.on("end", () => tail.end());
      stream.on("error", () => tail.end());
    }, (err) => this.#o.log.warn("Could not follow container logs", { backend: backendId, err }));
  }

  async terminate(backendId: BackendName, { hard }: { hard: boolean }): Promise<boolean> {
    const container = this.#o.docker.getContainer(containerName(backendId));
    try {
      // plane-0.5.md §3.7 / #838: `stop` on a stopped container does not fail, so look first.
      const info = await container.inspect();
      if (!info.State.Running) return false;
      if (hard) await container.kill();
      else await container.stop({ t: this.#o.stopTimeoutSeconds ?? 30 });
      return true;
    } catch (err) {
      const code = statusCode(err);
      if (code === 404 || code === 409 || code === 304) return false;
      throw err;
    }
  }

  async waitForReady(
    _backendId: BackendName,
    address: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<ReadyResult> {
    return await waitForHttp(address, {
      ...(options.signal ? { signal: options.signal } : {}),
      timeoutMs: this.#o.startupTimeoutMs ?? STARTUP_TIMEOUT_MS,
    });
  }

  #logListeners: ((backendId: BackendName, line: LogLine) => void)[] = [];

  onLog(listener: (backendId: BackendName, line: LogLine) => void): void {
    this.#logListeners.push(listener);
  }

  onExit(listener: (event: ExitEvent) => void): void {
    this.#listeners.push(listener);
  }

  async metrics(backendId: BackendName): Promise<BackendMetricsMessage | null> {
    if (!this.#live.has(backendId)) return null;
    try {
      const stats = await this.#o.docker.getContainer(containerName(backendId)).stats({
        stream: false,
      });
      return metricsFromStats(backendId, stats);
    } catch (err) {
      if (statusCode(err) === 404) return null;
      throw err;
    }
  }

  logs(backendId: BackendName): LogLine[] {
    return this.#tails.get(backendId)?.lines() ?? this.#ended.lines(backendId) ?? [];
  }

  /** Containers labelled with this drone's name (none when it has no name). */
  async #ownContainers(): Promise<{ backendId: BackendName; running: boolean }[]> {
    if (!this.#o.droneName) return [];
    const list = await this.#o.docker.listContainers({
      all: true,
      filters: { label: [PLANE_LABEL, `${DRONE_LABEL}=${this.#o.droneName}`] },
    });
    const found: { backendId: BackendName; running: boolean }[] = [];
    for (const container of list) {
      const name = container.Names?.[0]?.replace(/^\//, "");
      const backendId = name ? backendIdOfContainer(name) : null;
      if (backendId) {
        found.push({ backendId: backendId as BackendName, running: container.State === "running" });
      }
    }
    return found;
  }

  /**
   * Start-up sweep (issue 11, finding 4): removes every container labelled with this drone's
   * name that this run does not know as live — a previous run's, whether or not its state
   * store still lists the backend (a spawn that failed after create, a crash mid-spawn).
   */
  async sweep(): Promise<SweepResult> {
    const result: SweepResult = { killed: [], gone: [], failed: [] };
    for (const { backendId, running } of await this.#ownContainers()) {
      if (this.#live.has(backendId)) continue;
      try {
        await this.#o.docker.getContainer(containerName(backendId)).remove({ force: true });
        (running ? result.killed : result.gone).push(backendId);
      } catch (err) {
        if (statusCode(err) === 404) result.gone.push(backendId);
        else result.failed.push({ backendId, error: String(err) });
      }
    }
    return result;
  }

  /** Removes stopped Plane containers older than the minimum age (plane-0.5.md §3.8). */
  async prune(): Promise<void> {
    try {
      await this.#o.docker.pruneContainers({
        filters: { label: [PLANE_LABEL], until: [`${this.#o.pruneMinAgeSeconds ?? 0}s`] },
      });
    } catch (err) {
      this.#o.log.warn("Container prune failed", { err });
    }
  }

  /**
   * Force-removes every container this executor created (`plane dev` shutdown: nothing may be
   * left behind). Only its own: other drones on the machine keep theirs.
   */
  async removeCreated(): Promise<number> {
    let removed = 0;
    const ids = new Set<string>([...this.#live, ...this.#tails.keys()]);
    for (const { backendId } of await this.#ownContainers()) ids.add(backendId);
    for (const backendId of ids) {
      try {
        await this.#o.docker.getContainer(containerName(backendId)).remove({ force: true });
        removed++;
      } catch (err) {
        if (statusCode(err) !== 404) {
          this.#o.log.warn("Could not remove a container", { backend: backendId, err });
        }
      }
    }
    return removed;
  }

  close(): Promise<void> {
    this.#closed = true;
    if (this.#pruneTimer) clearInterval(this.#pruneTimer);
    const events = this.#events as unknown as { destroy?: () => void } | null;
    events?.destroy?.();
    return Promise.resolve();
  }
}
