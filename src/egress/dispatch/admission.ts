// The upstream's admission (src/egress/admission.ts) around each try: a try past maxInflight or
// against an open circuit fails at once, with no connection attempted; a try over the rate limit
// waits for its token (up to maxWait) or fails with rate_limited; and the breaker learns how
// every admitted try ended. Failure = transport error, timeout, a status in failureStatuses
// (all 5xx by default), or a gRPC answer whose grpc-status is in grpc.errorCodes; 4xx, and the
// gRPC statuses about the caller's request (NOT_FOUND, INVALID_ARGUMENT, …), count as successes.
// Composed inside the per-try metrics and spans, so a refusal here is a try they record with its
// error type.
import type { Dispatcher } from 'undici';
import { ClientAbortedError, classify } from '../../errors.js';
import type { ProxyDispatchOptions, ResponseHeaders } from '../../proxy/layer.js';
import type { UpstreamAdmission } from '../admission.js';
import type { RateWaiter } from '../rate-limiter.js';
import { failTry } from './fail-try.js';
import { TryOutcomeHandler } from './try-outcome.js';

type Controller = Dispatcher.DispatchController;
type Dispatch = (opts: ProxyDispatchOptions, handler: Dispatcher.DispatchHandler) => boolean;

class AdmittedTry extends TryOutcomeHandler implements RateWaiter {
  /** the try tells nothing of the upstream's health: the dispatch threw (sidelight's bug), or it was called off while it waited for its token */
  abandoned = false;
  /** while the try waits for its token: what the handlers above may abort */
  private waiting: WaitingController | undefined = undefined;
  private dispatch: Dispatch | undefined = undefined;
  private opts: ProxyDispatchOptions | undefined = undefined;

  constructor(
    private readonly upward: Dispatcher.DispatchHandler,
    private readonly admission: UpstreamAdmission,
    private readonly ticket: number,
  ) {
    super(upward);
  }

  send(dispatch: Dispatch, opts: ProxyDispatchOptions): boolean {
    try {
      return dispatch(opts, this);
    } catch (err) {
      this.abandoned = true;
      this.endTry(err as Error);
      throw err;
    }
  }

  /** Waits for the limiter's go-ahead: the handlers above get a controller that can call it off. */
  wait(dispatch: Dispatch, opts: ProxyDispatchOptions): void {
    this.dispatch = dispatch;
    this.opts = opts;
    this.waiting = new WaitingController(this);
    this.upward.onRequestStart?.(this.waiting, {});
  }

  admitted(): void {
    const waiting = this.waiting!;
    if (waiting.aborted) return;
    waiting.sent = true;
    try {
      this.dispatch!(this.opts!, this);
    } catch (err) {
      this.abandoned = true;
      this.onResponseError(waiting, err as Error);
    }
  }

  /** Called off while it waited: the handlers above hear the reason, the upstream heard nothing. */
  calledOff(controller: Controller, reason: Error): void {
    this.abandoned = true;
    this.onResponseError(controller, reason);
  }

  override onResponseStart(controller: Controller, statusCode: number, headers: ResponseHeaders, statusMessage?: string): void {
    if (statusCode === 429 || statusCode === 503) this.admission.answered(statusCode, headers['retry-after']);
    super.onResponseStart(controller, statusCode, headers, statusMessage);
  }

  protected tryEnded(err: Error | undefined): void {
    const admission = this.admission;
    admission.release();
    const abandoned = this.abandoned || err instanceof ClientAbortedError;
    admission.report(this.ticket, abandoned ? null : admission.faultOf(this.status, this.grpcStatus, err && classify(err)));
  }
}

/** The controller of a try waiting for its token: an abort ends the wait and the try. */
class WaitingController implements Controller {
  aborted = false;
  paused = false;
  reason: Error | null = null;
  /** the token came and the try went down the chain: the real controller takes over */
  sent = false;

  constructor(private readonly pending: AdmittedTry) {}

  abort(reason: Error): void {
    if (this.aborted || this.sent) return;
    this.aborted = true;
    this.reason = reason;
    this.pending.calledOff(this, reason);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
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
    const wait = admission.pace(ticket, tracked);
    if (typeof wait !== 'number') {
      failTry(handler, wait);
      return true;
    }
    if (wait > 0) {
      tracked.wait(dispatch as Dispatch, opts);
      return true;
    }
    return tracked.send(dispatch as Dispatch, opts);
  };
}
