// Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"):
// a uniformly random delay in [0, min(maxBackoff, backoff × 2^(retry-1))]. Full jitter spreads
// the retries of many clients that failed together, so they do not hit a recovering API in waves.

/** Delay before retry number `retry` (1 for the first retry), in ms. */
export function backoffDelay(retry: number, backoff: number, maxBackoff: number, random: () => number = Math.random): number {
  const cap = Math.min(maxBackoff, backoff * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * cap);
}
