// A retry budget per upstream (the Finagle / Envoy idea): retries may be at most `percent` of
// the requests seen over a rolling window, plus a small floor so a quiet upstream still gets
// retries. Without it, N clients × attempts turn an outage into an N-fold retry storm.
//
// The window is a ring of buckets advanced lazily on use: no timer, O(1) per request.

const BUCKETS = 10;

export class RetryBudget {
  private readonly requests = new Array<number>(BUCKETS).fill(0);
  private readonly retries = new Array<number>(BUCKETS).fill(0);
  private readonly bucketMs: number;
  /** index of the newest bucket in absolute bucket numbers (time / bucketMs) */
  private epoch = 0;
  private requestTotal = 0;
  private retryTotal = 0;

  constructor(
    private readonly percent: number,
    private readonly minRetries: number,
    windowMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.bucketMs = Math.max(1, windowMs / BUCKETS);
    this.epoch = Math.floor(this.now() / this.bucketMs);
  }

  /** a first try was sent */
  recordRequest(): void {
    this.advance();
    this.requests[this.epoch % BUCKETS]++;
    this.requestTotal++;
  }

  /** true (and the retry counted) when one more retry fits the budget */
  tryAcquire(): boolean {
    this.advance();
    const allowed = this.minRetries + (this.requestTotal * this.percent) / 100;
    if (this.retryTotal + 1 > allowed) return false;
    this.retries[this.epoch % BUCKETS]++;
    this.retryTotal++;
    return true;
  }

  /** counts over the current window, for the admin API */
  snapshot(): { requests: number; retries: number } {
    this.advance();
    return { requests: this.requestTotal, retries: this.retryTotal };
  }

  private advance(): void {
    const current = Math.floor(this.now() / this.bucketMs);
    if (current === this.epoch) return;
    // Clear every bucket that fell out of the window (all of them after a long pause).
    const steps = Math.min(BUCKETS, current - this.epoch);
    for (let i = 1; i <= steps; i++) {
      const b = (this.epoch + i) % BUCKETS;
      this.requestTotal -= this.requests[b];
      this.retryTotal -= this.retries[b];
      this.requests[b] = 0;
      this.retries[b] = 0;
    }
    this.epoch = current;
  }
}
