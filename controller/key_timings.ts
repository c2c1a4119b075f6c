/**
 * Key lease timings (plane-0.5.md §5.2) derived from one number, the lease. Plane's constants
 * are renew +30 s, soft terminate +40 s, hard terminate +50 s, lease 60 s: the same fractions
 * (1/2, 2/3, 5/6) of any lease keep renew < soft < hard < lease, so `--key-lease-ms` is one
 * knob for operators (and tests) instead of four that must agree.
 */

/** The four offsets of plane-0.5.md §5.2, in milliseconds. */
export interface KeyLeaseTimings {
  keyRenewAfterMs: number;
  keySoftTerminateAfterMs: number;
  keyHardTerminateAfterMs: number;
  keyLeaseMs: number;
}

/**
 * Shortest lease accepted from flags and environment: spawn deadlines count from the drone's
 * last heartbeat (plane-0.5.md §5.3), up to 7 s old, so the soft-terminate offset (2/3 of the
 * lease, 10 s here) must stay well above it or a new backend is killed as `keyexpired` on arrival.
 */
export const MIN_KEY_LEASE_MS = 15_000;

/** Plane's timings scaled to `leaseMs`: renew at 1/2, soft at 2/3, hard at 5/6 of the lease. */
export function keyTimingsForLease(leaseMs: number): KeyLeaseTimings {
  return {
    keyRenewAfterMs: Math.round(leaseMs / 2),
    keySoftTerminateAfterMs: Math.round((leaseMs * 2) / 3),
    keyHardTerminateAfterMs: Math.round((leaseMs * 5) / 6),
    keyLeaseMs: leaseMs,
  };
}
