// One upstream's circuit breaker as a small state machine: closed → open → half-open (exactly
// one trial) → closed or open again. The failure rate is failures ÷ (successes + failures) over
// a rolling window; tries the breaker refused itself never count, so a relapse right after a
// close re-opens it within volumeThreshold tries (opossum divided by every call it fired,
// rejections included, and let 25 failures through before re-opening). A trial that closes the
// circuit starts a fresh window: what happened before the outage says nothing about now.
// An operator can hold it open (no trial until close/reset), close it (counts kept) or reset it
// (counts forgotten). It knows nothing of undici: src/egress/admission.ts (and its interceptor in src/egress/dispatch/admission.ts) drives it.
// Its times are on the monotonic clock, like the retry budget's: a wall-clock step (NTP, a VM
// resumed) neither stretches nor cuts short an open circuit or the rolling window. Wall-clock
// times appear only in stats(), for people.
import type { GrpcFaults } from '../net/grpc-faults.js';
import type { BreakerState, EgressObserver } from './observer.js';
import { RollingWindow } from './rolling-window.js';

export interface BreakerOptions {
  enabled: boolean;
  errorThresholdPercentage: number;
  volumeThreshold: number;
  resetTimeout: number;
  rollingWindow: number;
  failureStatuses?: number[];
  /** gRPC statuses that count as failures (grpc.errorCodes); an answer's grpc-status decides over its HTTP 200 */
  grpcFaults?: GrpcFaults;
}

/** What admit() returns: refused, an ordinary try, or the half-open trial (numbers ≥ TRIAL). */
export const REFUSED = 0;
export const ADMITTED = 1;
const TRIAL = 2;

const SUCCESSES = 0;
const FAILURES = 1;
const REJECTIONS = 2;

export class UpstreamBreaker {
  /** the automatic state; an operator's hold (forced) overrides it */
  private current: BreakerState = 'closed';
  /** held open by an operator (POST /open) until /close or /reset: no automatic trial */
  private forced = false;
  private reported: BreakerState = 'closed';
  /** on the monotonic clock (this.now) */
  private openedAt = 0;
  /** the admission number of the trial in flight, 0 when none; each trial gets a new one */
  private trial = 0;
  private trials = TRIAL - 1;
  /** moves the state gauge to half-open on time, rather than at the next request */
  private halfOpenTimer: NodeJS.Timeout | undefined = undefined;
  private readonly window: RollingWindow;
  private readonly failureStatuses: (status: number) => boolean;
  lastFailure: { at: string; error: string } | undefined;

  constructor(
    readonly upstream: string,
    readonly options: BreakerOptions,
    private readonly observers: readonly EgressObserver[],
    private readonly now: () => number = () => performance.now(),
  ) {
    const list = options.failureStatuses ? new Set(options.failureStatuses) : undefined;
    this.failureStatuses = list ? (s) => list.has(s) : (s) => s >= 500 && s <= 599;
    this.window = new RollingWindow(3, options.rollingWindow, now);
  }

  get enabled(): boolean {
    return this.options.enabled;
  }

  get state(): BreakerState {
    return this.forced ? 'open' : this.current;
  }

  isFailureStatus(status: number): boolean {
    return this.failureStatuses(status);
  }

  isFailureGrpcStatus(code: number): boolean {
    return this.options.grpcFaults?.isFault(code) ?? false;
  }

  /** REFUSED, ADMITTED, or a trial number; hand it back to succeeded/failed/abandoned */
  admit(): number {
    if (this.forced) return this.refuse();
    if (this.current === 'closed') return ADMITTED;
    if (this.current === 'open') {
      if (this.now() < this.openedAt + this.options.resetTimeout) return this.refuse();
      this.enter('half_open');
    }
    if (this.trial !== 0) return this.refuse();
    this.trial = ++this.trials;
    return this.trial;
  }

  succeeded(admission: number): void {
    this.window.add(SUCCESSES);
    if (this.isCurrentTrial(admission)) {
      this.window.clear();
      this.enter('closed');
    }
  }

  /** `error`: what went wrong, for the admin API ("status_503", "timeout", …) */
  failed(admission: number, error: string): void {
    this.window.add(FAILURES);
    this.lastFailure = { at: new Date().toISOString(), error };
    if (this.isCurrentTrial(admission)) this.open();
    else if (this.current === 'closed' && !this.forced && this.overThreshold()) this.open();
  }

  /** the try ended saying nothing about the upstream (the app hung up, a local refusal) */
  abandoned(admission: number): void {
    if (this.isCurrentTrial(admission)) this.trial = 0;
  }

  /**
   * What a refused try is answered: why, and a Retry-After of the seconds until the next trial.
   * A circuit held open by an operator has no next trial, so it promises no time.
   */
  refusal(): { message: string; headers?: string[] } {
    const name = this.upstream;
    if (this.forced) return { message: `circuit breaker for ${name} was opened by an operator (POST /circuit-breakers/${name}/close to close it)` };
    if (this.current === 'half_open') return { message: `circuit breaker for ${name} is half-open: its one trial is in flight`, headers: ['retry-after', '1'] };
    const seconds = this.retryAfterSeconds();
    return { message: `circuit breaker for ${name} is open; next trial in ${seconds}s`, headers: ['retry-after', String(seconds)] };
  }

  /** seconds until the half-open trial, at least 1 */
  private retryAfterSeconds(): number {
    return Math.max(1, Math.ceil((this.openedAt + this.options.resetTimeout - this.now()) / 1000));
  }

  /** when the half-open trial will be let through, on the monotonic clock (undefined when not open or held open) */
  nextTrialAt(): number | undefined {
    return this.current === 'open' && !this.forced ? this.openedAt + this.options.resetTimeout : undefined;
  }

  /** operator: hold the circuit open until close or reset */
  forceOpen(): void {
    if (this.state !== 'open') this.openedAt = this.now();
    this.forced = true;
    // A trial already in flight no longer decides anything: the operator does.
    this.trial = 0;
    this.report();
  }

  /** operator: close now, keeping the window's counts */
  close(): void {
    this.forced = false;
    this.enter('closed');
    this.report();
  }

  /** operator: close and forget the window's counts and the last failure */
  reset(): void {
    this.window.clear();
    this.lastFailure = undefined;
    this.close();
  }

  stats(): Record<string, unknown> {
    const successes = this.window.total(SUCCESSES);
    const failures = this.window.total(FAILURES);
    const settled = successes + failures;
    const next = this.nextTrialAt();
    return {
      state: this.state,
      enabled: this.enabled,
      forced: this.forced,
      requests: settled,
      successes,
      failures,
      rejections: this.window.total(REJECTIONS),
      failureRate: settled === 0 ? 0 : Math.round((failures / settled) * 10000) / 100,
      lastFailure: this.lastFailure,
      openedAt: this.state === 'open' ? this.wallClock(this.openedAt) : undefined,
      nextTrialAt: next === undefined ? undefined : this.wallClock(next),
      options: {
        errorThresholdPercentage: this.options.errorThresholdPercentage,
        volumeThreshold: this.options.volumeThreshold,
        resetTimeoutMs: this.options.resetTimeout,
        rollingWindowMs: this.options.rollingWindow,
      },
    };
  }

  shutdown(): void {
    this.clearTimer();
  }

  /** a monotonic time as the wall-clock time it is, or was, as of now */
  private wallClock(at: number): string {
    return new Date(Date.now() + (at - this.now())).toISOString();
  }

  private refuse(): number {
    this.window.add(REJECTIONS);
    return REFUSED;
  }

  private isCurrentTrial(admission: number): boolean {
    return admission >= TRIAL && admission === this.trial;
  }

  private overThreshold(): boolean {
    const failures = this.window.total(FAILURES);
    const settled = failures + this.window.total(SUCCESSES);
    return settled >= this.options.volumeThreshold && failures * 100 > this.options.errorThresholdPercentage * settled;
  }

  private open(): void {
    this.openedAt = this.now();
    this.enter('open');
    this.halfOpenTimer = setTimeout(() => {
      this.halfOpenTimer = undefined;
      if (this.current === 'open' && !this.forced) this.enter('half_open');
    }, this.options.resetTimeout);
    this.halfOpenTimer.unref();
  }

  private enter(state: BreakerState): void {
    this.trial = 0;
    this.clearTimer();
    if (state === this.current) return;
    this.current = state;
    this.report();
  }

  private clearTimer(): void {
    if (this.halfOpenTimer) clearTimeout(this.halfOpenTimer);
    this.halfOpenTimer = undefined;
  }

  private report(): void {
    const state = this.state;
    if (state === this.reported) return;
    this.reported = state;
    for (const o of this.observers) o.breakerStateChanged(this.upstream, state);
  }
}
