// Counts over a rolling time window (the retry budget's requests and retries, the breaker's
// successes, failures and rejections): a ring of buckets advanced lazily on use, so there is
// no timer and each add or read is O(1) (a long pause clears at most every bucket once).

export class RollingWindow {
  /** bucket b, counter c at [b * counters + c] */
  private readonly buckets: Float64Array;
  private readonly totals: Float64Array;
  private readonly bucketMs: number;
  /** the newest bucket, as an absolute bucket number (time / bucketMs) */
  private epoch: number;

  constructor(
    private readonly counters: number,
    windowMs: number,
    private readonly now: () => number = () => performance.now(),
    private readonly bucketCount = 10,
  ) {
    this.buckets = new Float64Array(bucketCount * counters);
    this.totals = new Float64Array(counters);
    this.bucketMs = Math.max(1, windowMs / bucketCount);
    this.epoch = Math.floor(this.now() / this.bucketMs);
  }

  add(counter: number, n = 1): void {
    this.advance();
    this.buckets[(this.epoch % this.bucketCount) * this.counters + counter] += n;
    this.totals[counter] += n;
  }

  /** the counter's sum over the window */
  total(counter: number): number {
    this.advance();
    return this.totals[counter];
  }

  /** forget everything: a fresh window from now */
  clear(): void {
    this.buckets.fill(0);
    this.totals.fill(0);
    this.epoch = Math.floor(this.now() / this.bucketMs);
  }

  private advance(): void {
    const current = Math.floor(this.now() / this.bucketMs);
    if (current === this.epoch) return;
    // Clear every bucket that fell out of the window (all of them after a long pause).
    const steps = Math.min(this.bucketCount, current - this.epoch);
    for (let i = 1; i <= steps; i++) {
      const base = ((this.epoch + i) % this.bucketCount) * this.counters;
      for (let c = 0; c < this.counters; c++) {
        this.totals[c] -= this.buckets[base + c];
        this.buckets[base + c] = 0;
      }
    }
    this.epoch = current;
  }
}
