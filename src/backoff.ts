/** Retry arithmetic shared by the HTTP wrapper, the KV lock retry and the daemon. */

export const BACKOFF_BASE_MS = 500;

/**
 * Exponential backoff with jitter for attempt 1, 2, …: half the step is fixed
 * and half random, so concurrent clients spread out but never retry at once.
 */
export function backoffMs(attempt: number, random: () => number, baseMs = BACKOFF_BASE_MS): number {
  const step = baseMs * 2 ** (attempt - 1);
  return Math.round(step / 2 + random() * step / 2);
}
