// The circuit breaker (src/egress/circuit-breaker.ts) as an undici interceptor around each try.
// Failure = transport error, timeout, or a status in failureStatuses (all 5xx by default); 4xx
// are the caller's problem and count as successes. While open, a try fails at once with 503
// circuit_open (and Retry-After = seconds until the half-open trial, unless an operator holds
// it open), and no connection is attempted.
import type { Dispatcher } from 'undici';
import { REFUSED, type UpstreamBreaker } from '../egress/circuit-breaker.js';
import type { EgressObserver } from '../egress/observer.js';
import { ClientAbortedError, LocalFailure, classify } from '../proxy/errors.js';
import { failTry } from './fail-try.js';
import { TryOutcomeHandler } from './try-outcome.js';

/** Tells the breaker how the try it admitted ended. */
class BreakerTryHandler extends TryOutcomeHandler {
  /** the dispatch threw: sidelight's bug, not the upstream's failure */
  invalid = false;

  constructor(
    handler: Dispatcher.DispatchHandler,
    private readonly breaker: UpstreamBreaker,
    private readonly admission: number,
  ) {
    super(handler);
  }

  protected tryEnded(err: Error | undefined): void {
    const breaker = this.breaker;
    // The app hanging up, or sidelight refusing locally, says nothing about the upstream's health.
    if (this.invalid || err instanceof ClientAbortedError || err instanceof LocalFailure) return breaker.abandoned(this.admission);
    if (breaker.isFailureStatus(this.status)) return breaker.failed(this.admission, `status_${this.status}`);
    if (err) breaker.failed(this.admission, classify(err).errorType);
    else breaker.succeeded(this.admission);
  }
}

export function breakerInterceptor(breaker: UpstreamBreaker, observers: readonly EgressObserver[]): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) => {
    if (!breaker.enabled) return dispatch(opts, handler);
    const admission = breaker.admit();
    if (admission !== REFUSED) {
      const tracked = new BreakerTryHandler(handler, breaker, admission);
      try {
        return dispatch(opts, tracked);
      } catch (err) {
        tracked.invalid = true;
        tracked.endTry(err as Error);
        throw err;
      }
    }
    for (const o of observers) o.breakerRejected(breaker.upstream);
    failTry(handler, { status: 503, code: 'circuit_open', errorType: 'circuit_open', ...breaker.refusal() });
    return true;
  };
}
