// The upstream's admission (src/egress/admission.ts) around each try: a try past maxInflight or
// against an open circuit fails at once, with no connection attempted, and the breaker learns how
// every admitted try ended. Failure = transport error, timeout, or a status in failureStatuses
// (all 5xx by default); 4xx are the caller's problem and count as successes. Composed inside
// the per-try metrics and spans, so a refusal here is a try they record with its error type.
import type { Dispatcher } from 'undici';
import { ClientAbortedError, classify } from '../../errors.js';
import type { UpstreamAdmission } from '../admission.js';
import { failTry } from './fail-try.js';
import { TryOutcomeHandler } from './try-outcome.js';

class AdmittedTry extends TryOutcomeHandler {
  /** the dispatch threw: sidelight's bug, not the upstream's failure */
  invalid = false;

  constructor(
    handler: Dispatcher.DispatchHandler,
    private readonly admission: UpstreamAdmission,
    private readonly ticket: number,
  ) {
    super(handler);
  }

  protected tryEnded(err: Error | undefined): void {
    const admission = this.admission;
    admission.release();
    const abandoned = this.invalid || err instanceof ClientAbortedError;
    admission.report(this.ticket, abandoned ? null : admission.faultOf(this.status, err && classify(err)));
  }
}

export function admissionInterceptor(admission: UpstreamAdmission): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) => {
    const ticket = admission.enter();
    if (typeof ticket !== 'number') {
      failTry(handler, ticket);
      return true;
    }
    const tracked = new AdmittedTry(handler, admission, ticket);
    try {
      return dispatch(opts, tracked);
    } catch (err) {
      tracked.invalid = true;
      tracked.endTry(err as Error);
      throw err;
    }
  };
}
