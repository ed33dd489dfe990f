// One upstream's rate limit (egress.upstreams.NAME.rateLimit): a token bucket whose callers may
// wait up to maxWait for their token, in one FIFO queue drained by one timer as tokens come, so a
// short burst is smoothed instead of failed and no request arms a timer of its own. An upstream's
// 429/503 with Retry-After holds the bucket: nothing goes out before the advised time.
import { TokenBucket } from '../proxy/token-bucket.js';

export interface RateLimitSettings {
  rps: number;
  burst: number;
  /** ms */
  maxWait: number;
}

/** An upstream limiter's state in GET /stats. */
export interface RateLimiterView {
  rps: number;
  burst: number;
  maxWaitMs: number;
  /** tokens there now; negative: owed to the callers waiting */
  tokens: number;
  queued: number;
  /** since start: callers that waited for their token, their waits summed, callers refused */
  waited: number;
  waitedMs: number;
  refused: number;
}

const round = (n: number) => Math.round(n * 100) / 100;

/** A caller waiting for its reserved token. */
export interface RateWaiter {
  /** its turn came (it may have given up meanwhile: then it lets the token go unused) */
  admitted(): void;
}

/** The longest hold an upstream's Retry-After may put on its limiter, ms. */
const MAX_HOLD_MS = 60_000;

export class UpstreamRateLimiter {
  private readonly bucket: TokenBucket;
  /** the waiters and when each may go, in order (the times do not decrease) */
  private readonly waiters: RateWaiter[] = [];
  private readonly readyAt: number[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined = undefined;
  /** no waiter leaves before this (an upstream's Retry-After) */
  private heldUntil = 0;
  /** callers that waited for a token, the ms they waited in all, and callers refused (for /stats and the metrics) */
  waited = 0;
  waitedMs = 0;
  refused = 0;

  constructor(readonly settings: RateLimitSettings) {
    this.bucket = new TokenBucket(settings.rps, settings.burst, settings.maxWait, performance.now());
  }

  /** waiting now */
  get queued(): number {
    return this.waiters.length - this.head;
  }

  /** tokens there now; negative: owed to waiters */
  get tokens(): number {
    return this.bucket.available(performance.now());
  }

  /**
   * Takes a token for a caller: 0 when it may go now; ms it waits, queued, before `waiter` hears
   * it may go; or -1 when the wait would be past maxWait (see `refusedWait`).
   */
  take(waiter: RateWaiter): number {
    const now = performance.now();
    const wait = this.bucket.take(now);
    if (wait < 0) this.refused++;
    if (wait <= 0) return wait;
    this.waited++;
    this.waitedMs += wait;
    this.waiters.push(waiter);
    this.readyAt.push(now + wait);
    if (this.timer === undefined) this.arm(now);
    return wait;
  }

  /** the state /stats shows */
  view(): RateLimiterView {
    const { rps, burst, maxWait } = this.settings;
    return { rps, burst, maxWaitMs: maxWait, tokens: round(this.tokens), queued: this.queued, waited: this.waited, waitedMs: Math.round(this.waitedMs), refused: this.refused };
  }

  /** ms a refused caller should wait before trying again: its Retry-After */
  refusedWait(): number {
    return this.bucket.waitFor(performance.now());
  }

  /** The upstream asked for `ms` of quiet (Retry-After): every caller waits it out. */
  hold(ms: number): void {
    const now = performance.now();
    const until = now + Math.min(ms, MAX_HOLD_MS);
    this.bucket.hold(now, until);
    if (until <= this.heldUntil) return;
    this.heldUntil = until;
    if (this.queued > 0) this.arm(now);
  }

  private arm(now: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    const next = Math.max(this.readyAt[this.head], this.heldUntil);
    this.timer = setTimeout(this.drain, Math.max(0, Math.ceil(next - now)));
    this.timer.unref();
  }

  private readonly drain = (): void => {
    this.timer = undefined;
    const now = performance.now();
    if (now >= this.heldUntil) this.release(now);
    if (this.queued > 0) this.arm(now);
  };

  private release(now: number): void {
    while (this.head < this.waiters.length && this.readyAt[this.head] <= now) {
      const waiter = this.waiters[this.head];
      this.head++;
      waiter.admitted();
    }
    if (this.head === this.waiters.length) {
      this.waiters.length = 0;
      this.readyAt.length = 0;
      this.head = 0;
    } else if (this.head > 1024) {
      this.waiters.splice(0, this.head);
      this.readyAt.splice(0, this.head);
      this.head = 0;
    }
  }
}
