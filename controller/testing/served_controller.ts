/**
 * Test fixture: `controller/main.ts` exactly as production runs it, under
 * `deno serve --allow-net --allow-env` in a subprocess, configured by environment only.
 * Disposing it sends SIGTERM and waits for the process to exit.
 */
import { waitFor } from "../../testing/wait_for.ts";
import { freePort } from "../../testing/free_port.ts";

export interface ServedController extends AsyncDisposable {
  /** `http://127.0.0.1:PORT` */
  url: string;
  request(path: string, init?: RequestInit): Promise<Response>;
  /** Stops the process (SIGTERM) and resolves with its exit status. */
  stop(): Promise<Deno.CommandStatus>;
  /** Everything the process wrote to stderr so far (its JSON log lines). */
  stderr(): string;
}

export async function serveControllerMain(
  env: Record<string, string>,
  { timeoutMs = 30_000 } = {},
): Promise<ServedController> {
  const port = freePort();
  const main = new URL("../main.ts", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["serve", "--allow-net", "--allow-env", "--host", "127.0.0.1", "--port", `${port}`, main],
    env: { PLANE_LOG_LEVEL: "warn", ...env },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let log = "";
  const decoder = new TextDecoder();
  const drained = child.stderr.pipeTo(
    new WritableStream({ write: (chunk) => void (log += decoder.decode(chunk, { stream: true })) }),
  );
  const url = `http://127.0.0.1:${port}`;
  let stopped: Promise<Deno.CommandStatus> | null = null;
  const stop = () => {
    stopped ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already exited.
      }
      const status = await child.status;
      await drained;
      return status;
    })();
    return stopped;
  };
  const served: ServedController = {
    url,
    request: (path, init) => fetch(`${url}${path}`, init),
    stop,
    stderr: () => log,
    async [Symbol.asyncDispose]() {
      await stop();
    },
  };
  try {
    await waitFor(async () => {
      const exited = await Promise.race([child.status, Promise.resolve(null)]);
      if (exited) throw new Error(`controller/main.ts exited (${exited.code}): ${log}`);
      try {
        const res = await fetch(`${url}/pub/health`);
        await res.body?.cancel();
        return res.status === 200;
      } catch {
        return false;
      }
    }, { timeoutMs, intervalMs: 50, message: `${url}/pub/health to answer 200` });
  } catch (err) {
    await stop();
    throw err;
  }
  return served;
}
