// A token bucket that hands out reservations: `burst` tokens, refilled at `rps` per second. A
// caller takes a token now, or reserves one that comes within `maxWait` ms (the tokens go
// negative: the reservations are owed), or is refused with the wait it would have had. The
// clock is passed in (performance.now() ms), so one read serves every bucket a request meets.

export class TokenBucket {
  private tokens: number;
  /** ms the tokens were last brought up to date; later than now while the bucket is held */
  private updatedAt: number;

  constructor(
    readonly rps: number,
    readonly burst: number,
    /** ms a caller may wait for a reserved token; 0: only a token available now */
    readonly maxWait: number,
    now: number,
  ) {
    this.tokens = burst;
    this.updatedAt = now;
  }

  /**
   * Takes a token: 0 when one is there now, the ms until the reserved one comes, or -1 when
   * that would be longer than maxWait (nothing is taken; `waitFor(now)` says how long).
   */
  take(now: number): number {
    const wait = this.waitFor(now);
    if (wait > this.maxWait) return -1;
    this.tokens -= 1;
    return wait;
  }

  /** ms until a token would come for a caller arriving now. */
  waitFor(now: number): number {
    if (now > this.updatedAt) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) * this.rps) / 1000);
      this.updatedAt = now;
    }
    const held = this.updatedAt - now;
    return this.tokens >= 1 ? held : held + ((1 - this.tokens) * 1000) / this.rps;
  }

  /**
   * No token comes before `until` (an upstream's Retry-After); then one, and the rest at the
   * refill rate, so the held callers do not arrive as one burst.
   */
  hold(now: number, until: number): void {
    this.waitFor(now);
    if (until <= this.updatedAt) return;
    this.updatedAt = until;
    this.tokens = Math.min(this.tokens, 1);
  }

  /** tokens there now (negative: reservations owed), for /stats */
  available(now: number): number {
    this.waitFor(now);
    return this.tokens;
  }
}

/** Retry-After for a wait in ms: whole seconds, at least 1. */
export function retryAfterSeconds(waitMs: number): string {
  return String(Math.max(1, Math.ceil(waitMs / 1000)));
}
