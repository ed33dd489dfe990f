// A retry budget per upstream (the Finagle / Envoy idea): retries may be at most `percent` of
// the requests seen over a rolling window, plus a small floor so a quiet upstream still gets
// retries. Without it, N clients × attempts turn an outage into an N-fold retry storm.
import { RollingWindow } from './rolling-window.js';

const REQUESTS = 0;
const RETRIES = 1;

export class RetryBudget {
  private readonly window: RollingWindow;

  constructor(
    private readonly percent: number,
    private readonly minRetries: number,
    windowMs: number,
    now?: () => number,
  ) {
    this.window = new RollingWindow(2, windowMs, now);
  }

  /** a first try was sent */
  recordRequest(): void {
    this.window.add(REQUESTS);
  }

  /** true (and the retry counted) when one more retry fits the budget */
  tryAcquire(): boolean {
    const allowed = this.minRetries + (this.window.total(REQUESTS) * this.percent) / 100;
    if (this.window.total(RETRIES) + 1 > allowed) return false;
    this.window.add(RETRIES);
    return true;
  }

  /** counts over the current window, for the admin API */
  snapshot(): { requests: number; retries: number } {
    return { requests: this.window.total(REQUESTS), retries: this.window.total(RETRIES) };
  }
}
