// One /stats row's cumulative counters (histogram buckets, requests, errors, retries), sampled
// once a second into a ring. The difference between the newest sample and the one N seconds
// older is what happened in the last N seconds, as Prometheus' rate() and increase() see it.

/** the longest window: one minute, plus the sample it starts from */
export const MAX_WINDOW_SECONDS = 60;
const SLOTS = MAX_WINDOW_SECONDS + 1;

/** Layout of one sample: bucket counts, then these three. */
export interface RowCounters {
  readonly buckets: Float64Array;
  count: number;
  errors: number;
  retries: number;
}

export interface WindowCounts extends RowCounters {
  /** seconds the window really spans (less than asked while the sampler is young) */
  seconds: number;
}

export class SampledRow {
  private readonly width: number;
  private readonly ring: Float64Array;
  private head = -1;
  private samples = 0;

  constructor(private readonly bucketCount: number) {
    this.width = bucketCount + 3;
    this.ring = new Float64Array(SLOTS * this.width);
  }

  record(c: RowCounters): void {
    this.head = (this.head + 1) % SLOTS;
    if (this.samples < SLOTS) this.samples++;
    const at = this.head * this.width;
    this.ring.set(c.buckets, at);
    const n = this.bucketCount;
    this.ring[at + n] = c.count;
    this.ring[at + n + 1] = c.errors;
    this.ring[at + n + 2] = c.retries;
  }

  /** counts of the last `seconds` (or as many as were sampled) */
  window(seconds: number): WindowCounts {
    const n = this.bucketCount;
    const back = Math.min(seconds, this.samples - 1);
    const buckets = new Float64Array(n);
    if (back <= 0) return { buckets, count: 0, errors: 0, retries: 0, seconds: 0 };
    const now = this.head * this.width;
    const then = ((this.head - back + SLOTS) % SLOTS) * this.width;
    for (let i = 0; i < n; i++) buckets[i] = this.ring[now + i] - this.ring[then + i];
    const diff = (k: number) => this.ring[now + n + k] - this.ring[then + n + k];
    return { buckets, count: diff(0), errors: diff(1), retries: diff(2), seconds: back };
  }
}

/**
 * The q-quantile of a histogram, as Prometheus' histogram_quantile computes it: linear
 * interpolation inside the bucket that holds the rank, the first bucket starting at 0, and the
 * highest finite bound when the rank falls in +Inf. `buckets` are per-bucket (not cumulative),
 * one more than `bounds`. NaN when the histogram is empty.
 */
export function quantile(q: number, bounds: Float64Array, buckets: Float64Array): number {
  let total = 0;
  for (let i = 0; i < buckets.length; i++) total += buckets[i];
  if (total === 0) return NaN;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < buckets.length; i++) {
    const inBucket = buckets[i];
    if (below + inBucket >= rank && inBucket > 0) {
      if (i >= bounds.length) return bounds[bounds.length - 1];
      const lower = i === 0 ? 0 : bounds[i - 1];
      return lower + ((bounds[i] - lower) * (rank - below)) / inBucket;
    }
    below += inBucket;
  }
  return bounds[bounds.length - 1];
}
