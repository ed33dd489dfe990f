// One circuit breaker per upstream, as an undici interceptor around each try.
// opossum is the state machine (rolling window, threshold, volume, open → half-open → closed);
// a try is "fired" through it as a promise that settles when the try ends. Failure = transport
// error, timeout, or a status in failureStatuses (all 5xx by default); 4xx are the caller's
// problem and count as successes. While open, a try fails at once with 503 circuit_open and
// Retry-After = seconds until the half-open trial, and no connection is attempted.
import CircuitBreaker from 'opossum';
import type { Dispatcher } from 'undici';
import type { BreakerState, EgressObserver } from '../egress/observer.js';
import { ClientAbortedError, LocalFailure, classify } from '../proxy/errors.js';
import { failTry } from './fail-try.js';
import { TryOutcomeHandler } from './try-outcome.js';

type Settle = { resolve: () => void; reject: (err: Error) => void };
type Start = (settle: Settle) => void;
const noop = () => {};

export interface BreakerOptions {
  enabled: boolean;
  errorThresholdPercentage: number;
  volumeThreshold: number;
  resetTimeout: number;
  rollingWindow: number;
  failureStatuses?: number[];
}

/** The error a try settles with when the upstream answered with a failure status. */
class StatusFailure extends Error {
  constructor(readonly status: number) {
    super(`upstream answered ${status}`);
  }
}

export class UpstreamBreaker {
  private cb: CircuitBreaker<[Start], void>;
  /** held open by an operator (POST /open) until /close or /reset: no automatic trial */
  private forced = false;
  private openedAt = 0;
  private reported: BreakerState = 'closed';
  private readonly failureStatuses: (status: number) => boolean;
  lastFailure: { at: string; error: string } | undefined;

  constructor(
    readonly upstream: string,
    readonly options: BreakerOptions,
    private readonly observers: readonly EgressObserver[],
  ) {
    const list = options.failureStatuses ? new Set(options.failureStatuses) : undefined;
    this.failureStatuses = list ? (s) => list.has(s) : (s) => s >= 500 && s <= 599;
    this.cb = this.create();
  }

  get enabled(): boolean {
    return this.options.enabled;
  }

  get state(): BreakerState {
    if (this.forced || this.cb.opened) return 'open';
    return this.cb.halfOpen ? 'half_open' : 'closed';
  }

  isFailureStatus(status: number): boolean {
    return this.failureStatuses(status);
  }

  /**
   * Runs `start` as the try when the breaker admits it; false when refused. opossum calls the
   * action synchronously inside fire(), so admission is known before fire() returns.
   */
  admit(start: Start): boolean {
    if (this.forced) return false;
    let started = false;
    const call = this.cb.fire((settle: Settle) => {
      started = true;
      start(settle);
    });
    // The outcome is reported through the try's handler; the promise only feeds opossum's stats.
    call.catch(noop);
    return started;
  }

  /** seconds until the half-open trial: the Retry-After of a circuit_open answer */
  retryAfterSeconds(): number {
    if (this.forced) return Math.max(1, Math.ceil(this.options.resetTimeout / 1000));
    if (this.cb.halfOpen) return 1;
    return Math.max(1, Math.ceil((this.openedAt + this.options.resetTimeout - Date.now()) / 1000));
  }

  /** when the half-open trial will be let through (undefined when not open or held open) */
  nextTrialAt(): number | undefined {
    return this.cb.opened && !this.forced ? this.openedAt + this.options.resetTimeout : undefined;
  }

  recordFailure(err: Error): void {
    const error = err instanceof StatusFailure ? `status_${err.status}` : classify(err).errorType;
    this.lastFailure = { at: new Date().toISOString(), error };
  }

  /** operator: hold the circuit open until close or reset */
  forceOpen(): void {
    this.forced = true;
    this.report();
  }

  /** operator: close now, keeping the window's counts */
  close(): void {
    this.forced = false;
    this.cb.close();
    this.report();
  }

  /** operator: close and forget the window's counts and the last failure */
  reset(): void {
    this.forced = false;
    const old = this.cb;
    this.cb = this.create();
    old.shutdown();
    this.lastFailure = undefined;
    this.report();
  }

  stats(): Record<string, unknown> {
    const s = this.cb.stats;
    const settled = s.successes + s.failures;
    const next = this.nextTrialAt();
    return {
      state: this.state,
      enabled: this.enabled,
      forced: this.forced,
      requests: s.fires - s.rejects,
      successes: s.successes,
      failures: s.failures,
      rejections: s.rejects,
      failureRate: settled === 0 ? 0 : Math.round((s.failures / settled) * 10000) / 100,
      lastFailure: this.lastFailure,
      openedAt: this.cb.opened || this.forced ? new Date(this.openedAt).toISOString() : undefined,
      nextTrialAt: next === undefined ? undefined : new Date(next).toISOString(),
      options: {
        errorThresholdPercentage: this.options.errorThresholdPercentage,
        volumeThreshold: this.options.volumeThreshold,
        resetTimeoutMs: this.options.resetTimeout,
        rollingWindowMs: this.options.rollingWindow,
      },
    };
  }

  shutdown(): void {
    this.cb.shutdown();
  }

  private create(): CircuitBreaker<[Start], void> {
    const o = this.options;
    const cb = new CircuitBreaker<[Start], void>((start: Start) => new Promise<void>((resolve, reject) => start({ resolve, reject })), {
      name: this.upstream,
      // undici enforces the per-try timeout; opossum's own timer would be a second, racing one.
      timeout: false,
      resetTimeout: o.resetTimeout,
      errorThresholdPercentage: o.errorThresholdPercentage,
      volumeThreshold: o.volumeThreshold,
      rollingCountTimeout: o.rollingWindow,
      rollingCountBuckets: 10,
      // percentiles sort the whole window on every failure; snapshots are a timer nobody reads
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
    } as CircuitBreaker.Options<[Start]>);
    cb.on('open', () => {
      this.openedAt = Date.now();
      this.report();
    });
    cb.on('halfOpen', () => this.report());
    cb.on('close', () => this.report());
    cb.on('failure', (err: Error) => this.recordFailure(err));
    return cb;
  }

  private report(): void {
    const state = this.state;
    if (state === this.reported) return;
    this.reported = state;
    if (state === 'open' && this.forced) this.openedAt = Date.now();
    for (const o of this.observers) o.breakerStateChanged(this.upstream, state);
  }
}

/** Settles the breaker's promise when the try ends. */
class BreakerTryHandler extends TryOutcomeHandler {
  constructor(
    handler: Dispatcher.DispatchHandler,
    private readonly breaker: UpstreamBreaker,
    private readonly settle: Settle,
  ) {
    super(handler);
  }

  protected tryEnded(err: Error | undefined): void {
    // The app hanging up, or sidelight refusing locally, says nothing about the upstream's health.
    if (err instanceof ClientAbortedError || err instanceof LocalFailure) return this.settle.resolve();
    if (this.breaker.isFailureStatus(this.status)) return this.settle.reject(new StatusFailure(this.status));
    if (err) this.settle.reject(err);
    else this.settle.resolve();
  }
}

export function breakerInterceptor(breaker: UpstreamBreaker, observers: readonly EgressObserver[]): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) => {
    if (!breaker.enabled) return dispatch(opts, handler);
    let result = true;
    const admitted = breaker.admit((settle) => {
      const tracked = new BreakerTryHandler(handler, breaker, settle);
      try {
        result = dispatch(opts, tracked);
      } catch (err) {
        // Invalid options are sidelight's bug, not the upstream's failure.
        settle.resolve();
        throw err;
      }
    });
    if (admitted) return result;
    for (const o of observers) o.breakerRejected(breaker.upstream);
    const seconds = breaker.retryAfterSeconds();
    failTry(handler, {
      status: 503,
      code: 'circuit_open',
      errorType: 'circuit_open',
      message: `circuit breaker for ${breaker.upstream} is open; next trial in ${seconds}s`,
      headers: ['retry-after', String(seconds)],
    });
    return true;
  };
}
