/**
 * Runs `tick` every `intervalMs` until `signal` aborts; a failing tick is logged and the loop
 * goes on. The returned promise settles once the loop has stopped (for clean shutdown).
 */
import type { Logger } from "../shared/mod.ts";

export function every(
  intervalMs: number,
  tick: () => Promise<unknown>,
  options: { signal: AbortSignal; log: Logger; name: string; initialDelayMs?: number },
): Promise<void> {
  const { signal, log, name } = options;
  return (async () => {
    let delay = options.initialDelayMs ?? intervalMs;
    while (!signal.aborted) {
      if (!(await sleep(delay, signal))) break;
      delay = intervalMs;
      try {
        await tick();
      } catch (err) {
        if (!signal.aborted) log.error(`${name} failed`, { err });
      }
    }
  })();
}

/** Waits `ms`; resolves false early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    function onAbort() {
      clearTimeout(timer);
      resolve(false);
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
