// The arithmetic behind GET /stats: Prometheus-style quantiles from buckets, windows from
// sampled cumulative counters, and the latency baseline's z-score.
import { describe, expect, it } from 'vitest';
import { Baseline, WARMUP_UPDATES } from '../../src/stats/baseline.js';
import { quantile, SampledRow } from '../../src/stats/sampled-row.js';

const bounds = Float64Array.from([1, 2, 4]);

describe('quantile (as histogram_quantile)', () => {
  it('interpolates linearly inside the bucket that holds the rank', () => {
    const buckets = Float64Array.from([1, 1, 2, 0]); // ≤1: 1, (1,2]: 1, (2,4]: 2, +Inf: 0
    expect(quantile(0.5, bounds, buckets)).toBe(2);
    expect(quantile(0.75, bounds, buckets)).toBe(3);
    expect(quantile(0.25, bounds, buckets)).toBe(1);
    expect(quantile(0.1, bounds, buckets)).toBeCloseTo(0.4);
  });

  it('answers the highest finite bound for ranks in +Inf, and NaN for an empty histogram', () => {
    expect(quantile(0.99, bounds, Float64Array.from([0, 0, 1, 9]))).toBe(4);
    expect(quantile(0.5, bounds, Float64Array.from([0, 0, 0, 0]))).toBeNaN();
  });

  it('skips empty buckets at the rank boundary', () => {
    expect(quantile(0.5, bounds, Float64Array.from([1, 0, 1, 0]))).toBe(1);
  });
});

describe('SampledRow', () => {
  const counters = (n: number) => ({ buckets: Float64Array.from([n, 0, 0, 0]), count: n, errors: Math.floor(n / 2), retries: 1 });

  it('gives what happened over the last N samples, or over what it has while young', () => {
    const row = new SampledRow(4);
    row.record(counters(0));
    expect(row.window(10)).toMatchObject({ count: 0, seconds: 0 });
    for (let s = 1; s <= 15; s++) row.record(counters(s * 10)); // 10 more every second
    expect(row.window(10)).toMatchObject({ count: 100, errors: 50, retries: 0, seconds: 10 });
    expect(row.window(60)).toMatchObject({ count: 150, errors: 75, seconds: 15 });
    expect(Array.from(row.window(10).buckets)).toEqual([100, 0, 0, 0]);
  });

  it('keeps one minute and forgets what is older', () => {
    const row = new SampledRow(4);
    for (let s = 0; s <= 200; s++) row.record(counters(s));
    expect(row.window(60)).toMatchObject({ count: 60, seconds: 60 });
    expect(row.window(600)).toMatchObject({ count: 60, seconds: 60 });
  });
});

describe('Baseline', () => {
  it('gives no z-score while warming up, then the distance in standard deviations', () => {
    const b = new Baseline();
    for (let i = 0; i < WARMUP_UPDATES - 1; i++) b.update(i % 2 ? 90 : 110, 100);
    expect(b.zscore(100)).toBeNull();
    b.update(100, 100);
    expect(b.zscore(b.mean)).toBe(0);
    expect(b.stddev).toBeGreaterThan(0);
    expect(b.zscore(b.mean + 3 * b.stddev)).toBeCloseTo(3, 6);
  });

  it('ignores minutes with too few requests to say anything', () => {
    const b = new Baseline();
    b.update(500, 3);
    expect(b.updates).toBe(0);
  });

  it('never divides by a zero spread: a flat baseline still gives a finite z', () => {
    const b = new Baseline();
    for (let i = 0; i < WARMUP_UPDATES; i++) b.update(100, 100);
    expect(b.stddev).toBe(5); // 5 % of the mean
    expect(b.zscore(150)).toBe(10);
  });
});
