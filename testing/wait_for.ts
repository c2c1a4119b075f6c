import { delay } from "../shared/delay.ts";

/** Polls `check` until it returns a truthy value or `timeoutMs` passes (never a fixed sleep). */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 10, message = "condition" } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${message}`);
    }
    await delay(intervalMs);
  }
}
