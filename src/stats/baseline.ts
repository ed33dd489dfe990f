// A row's latency baseline for the live anomaly signal: an exponentially weighted mean and
// variance of its 1-minute p95, updated every 10 s, and the z-score of the current p95 against
// it. It is the sidecar-local twin of the SidelightLatencyAnomaly rule (5 m p95 against its 1 d
// mean and standard deviation), with memory of about half an hour instead of a day.

/** seconds between updates */
export const BASELINE_INTERVAL_S = 10;
/** weight of one update: a time constant of 30 minutes */
const ALPHA = 1 - Math.exp(-BASELINE_INTERVAL_S / 1800);
/** updates before a z-score is given: five minutes of traffic */
export const WARMUP_UPDATES = 30;
/** fewer requests than this in the minute say too little about its p95 */
export const MIN_REQUESTS = 20;
/**
 * The standard deviation is never taken below this share of the mean, nor below 1 ms: a
 * histogram's p95 is often exactly the same for an hour, and a zero spread would turn the
 * first small change into an infinite z.
 */
const MIN_SPREAD_SHARE = 0.05;
const MIN_SPREAD_MS = 1;

export class Baseline {
  mean = 0;
  variance = 0;
  updates = 0;

  /** one update from the last minute's p95 (ms) and how many requests it is made of */
  update(p95Ms: number, requests: number): void {
    if (requests < MIN_REQUESTS || !Number.isFinite(p95Ms)) return;
    if (this.updates === 0) {
      this.mean = p95Ms;
    } else {
      const diff = p95Ms - this.mean;
      const step = ALPHA * diff;
      this.mean += step;
      this.variance = (1 - ALPHA) * (this.variance + diff * step);
    }
    this.updates++;
  }

  get stddev(): number {
    return Math.max(Math.sqrt(this.variance), this.mean * MIN_SPREAD_SHARE, MIN_SPREAD_MS);
  }

  /** how far `p95Ms` is from the baseline in standard deviations; null while warming up */
  zscore(p95Ms: number): number | null {
    if (this.updates < WARMUP_UPDATES || !Number.isFinite(p95Ms)) return null;
    return (p95Ms - this.mean) / this.stddev;
  }
}
