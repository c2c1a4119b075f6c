/**
 * The one abortable sleep: every retry loop, poll and back-off waits through it, so a shutdown
 * (`signal`) ends the wait at once instead of after the longest back-off (style.md §15). Timers
 * only, no I/O, which is why it may live in `shared/`.
 */

/** setTimeout fires at once for delays past 2^31 − 1 ms (about 24.8 days): clamp to that. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * Waits `ms`, or until `signal` aborts, whichever is first. It never rejects: a caller that must
 * stop on abort checks `signal.aborted` (or calls `signal.throwIfAborted()`) after it.
 */
export function delay(
  ms: number,
  options: { signal?: AbortSignal | undefined } = {},
): Promise<void> {
  const { signal } = options;
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, Math.min(Math.max(0, ms), MAX_TIMEOUT_MS));
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
