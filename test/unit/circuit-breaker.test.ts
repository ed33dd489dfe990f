// The breaker's state machine and the rolling window under a pinned clock: the whole cycle,
// rejections that never count, a trial that ends saying nothing, and counts leaving the window;
// then on its own clocks (faked), through a wall-clock step.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ADMITTED, REFUSED, UpstreamBreaker } from '../../src/egress/circuit-breaker.js';
import type { BreakerState, EgressObserver } from '../../src/egress/observer.js';
import { RollingWindow } from '../../src/egress/rolling-window.js';

/** `now` pins the breaker's clock; without it the breaker keeps its own */
function breaker(now?: { t: number }) {
  const transitions: BreakerState[] = [];
  const observer: EgressObserver = {
    breakerStateChanged: (_u, to) => void transitions.push(to),
    breakerRejected: () => {},
    bulkheadRejected: () => {},
    rateLimited: () => {},
    retried: () => {},
    retryBudgetExhausted: () => {},
  };
  const b = new UpstreamBreaker(
    'api',
    { enabled: true, errorThresholdPercentage: 50, volumeThreshold: 10, resetTimeout: 3_000, rollingWindow: 10_000 },
    [observer],
    now && (() => now.t),
  );
  return { b, transitions };
}

const fail = (b: UpstreamBreaker, n: number) => {
  for (let i = 0; i < n; i++) b.failed(b.admit(), 'status_500');
};

describe('UpstreamBreaker', () => {
  it('open → half-open → closed → relapse → open within volumeThreshold, however many were refused', () => {
    const now = { t: 1_000_000 };
    const { b, transitions } = breaker(now);
    fail(b, 9);
    expect(b.state).toBe('closed');
    fail(b, 1);
    expect(b.state).toBe('open');
    for (let i = 0; i < 500; i++) expect(b.admit()).toBe(REFUSED);
    expect(b.stats()).toMatchObject({ failures: 10, rejections: 500, failureRate: 100 });

    now.t += 3_000;
    const trial = b.admit();
    expect(trial).toBeGreaterThan(ADMITTED);
    expect(b.state).toBe('half_open');
    expect(b.admit()).toBe(REFUSED); // exactly one trial
    b.succeeded(trial);
    expect(b.stats()).toMatchObject({ state: 'closed', successes: 0, failures: 0, rejections: 0 });

    fail(b, 9);
    expect(b.state).toBe('closed');
    fail(b, 1);
    expect(b.state).toBe('open');
    expect(transitions).toEqual(['open', 'half_open', 'closed', 'open']);
    b.shutdown();
  });

  it('a failed trial re-opens for another resetTimeout; an abandoned one lets the next request try', () => {
    const now = { t: 5_000_000 };
    const { b } = breaker(now);
    fail(b, 10);
    now.t += 3_000;
    b.failed(b.admit(), 'timeout');
    expect(b.state).toBe('open');
    expect(b.nextTrialAt()).toBe(now.t + 3_000);
    now.t += 3_000;
    const trial = b.admit();
    b.abandoned(trial);
    expect(b.state).toBe('half_open');
    const next = b.admit();
    expect(next).toBeGreaterThan(ADMITTED);
    // a late answer of the abandoned trial decides nothing
    b.failed(trial, 'status_500');
    expect(b.state).toBe('half_open');
    b.succeeded(next);
    expect(b.state).toBe('closed');
    b.shutdown();
  });

  it('failures leave the window: an old burst plus a new one under the volume does not open it', () => {
    const now = { t: 9_000_000 };
    const { b } = breaker(now);
    fail(b, 9);
    now.t += 11_000;
    fail(b, 9);
    expect(b.stats()).toMatchObject({ state: 'closed', failures: 9 });
  });

  it('forced open holds past resetTimeout and ignores a trial in flight; close keeps counts, reset forgets', () => {
    const now = { t: 2_000_000 };
    const { b } = breaker(now);
    fail(b, 10);
    now.t += 3_000;
    const trial = b.admit();
    b.forceOpen();
    b.succeeded(trial);
    now.t += 5_000; // past resetTimeout, still inside the window
    expect(b.admit()).toBe(REFUSED);
    expect(b.stats()).toMatchObject({ state: 'open', forced: true });
    b.close();
    expect(b.stats()).toMatchObject({ state: 'closed', forced: false, failures: 10, successes: 1 });
    b.reset();
    expect(b.stats()).toMatchObject({ state: 'closed', successes: 0, failures: 0, rejections: 0, lastFailure: undefined });
    b.shutdown();
  });
});

describe('UpstreamBreaker through a wall-clock step', () => {
  afterEach(() => void vi.useRealTimers());

  it('keeps its trial time and its window; the admin times are wall-clock times as of now', () => {
    // Only Date jumps with setSystemTime; performance.now and timers move with advanceTimersByTime.
    vi.useFakeTimers({ toFake: ['Date', 'performance', 'setTimeout', 'clearTimeout'], now: Date.parse('2026-03-01T12:00:00.000Z') });
    const { b } = breaker();
    fail(b, 10);
    expect(b.stats()).toMatchObject({ state: 'open', openedAt: '2026-03-01T12:00:00.000Z', nextTrialAt: '2026-03-01T12:00:03.000Z' });
    expect(b.refusal().headers).toEqual(['retry-after', '3']);

    vi.setSystemTime(Date.parse('2026-03-01T13:00:00.000Z')); // the wall clock steps an hour ahead
    expect(b.admit()).toBe(REFUSED);
    expect(b.refusal().headers).toEqual(['retry-after', '3']);
    expect(b.stats()).toMatchObject({ state: 'open', failures: 10, openedAt: '2026-03-01T13:00:00.000Z', nextTrialAt: '2026-03-01T13:00:03.000Z' });

    vi.setSystemTime(Date.parse('2026-03-01T11:00:00.000Z')); // then two hours back
    vi.advanceTimersByTime(3_000);
    expect(b.state).toBe('half_open');
    expect(b.admit()).toBeGreaterThan(ADMITTED);
    b.shutdown();
  });
});

describe('UpstreamBreaker refusals', () => {
  it('promise a trial time only when one is due: none while an operator holds the circuit open', () => {
    const now = { t: 7_000_000 };
    const { b } = breaker(now);
    fail(b, 10);
    now.t += 1_200;
    expect(b.refusal()).toEqual({ message: 'circuit breaker for api is open; next trial in 2s', headers: ['retry-after', '2'] });
    now.t += 1_800;
    const trial = b.admit();
    expect(b.refusal()).toEqual({ message: 'circuit breaker for api is half-open: its one trial is in flight', headers: ['retry-after', '1'] });
    b.forceOpen();
    b.failed(trial, 'timeout');
    expect(b.refusal()).toEqual({ message: 'circuit breaker for api was opened by an operator (POST /circuit-breakers/api/close to close it)' });
    expect(b.stats().nextTrialAt).toBeUndefined();
    b.shutdown();
  });
});

describe('RollingWindow', () => {
  it('advances lazily and drops whole buckets as they leave the window', () => {
    const now = { t: 0 };
    const w = new RollingWindow(2, 1_000, () => now.t);
    w.add(0, 3);
    now.t = 500;
    w.add(1);
    expect([w.total(0), w.total(1)]).toEqual([3, 1]);
    now.t = 1_050; // the first bucket (0–100 ms) left the window
    expect([w.total(0), w.total(1)]).toEqual([0, 1]);
    now.t = 100_000;
    expect([w.total(0), w.total(1)]).toEqual([0, 0]);
  });
});
