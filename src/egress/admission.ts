// One upstream's admission, the same for requests and CONNECT tunnels: a slot under the
// upstream's maxInflight (the bulkhead: undici's Pool queues without limit, so a slow API would
// otherwise pile requests and their memory up in sidelight), then the circuit breaker's
// go-ahead, then the rate limiter's token (`pace`: a caller may wait for it, holding its slot, so
// maxInflight bounds the waiters too). A refusal is a Failure the caller answers with; an
// admitted caller reports how it went to the breaker, and gives its slot back, once each.
import { ERRORS, failure, type Failure } from '../errors.js';
import { retryAfterSeconds } from '../proxy/token-bucket.js';
import { REFUSED, type UpstreamBreaker } from './circuit-breaker.js';
import type { EgressObserver } from './observer.js';
import type { RateWaiter, UpstreamRateLimiter } from './rate-limiter.js';
import { grpcStatusName } from '../net/grpc-status.js';
import { parseRetryAfter } from '../net/retry-after.js';

/** A breaker ticket for a caller the breaker does not track (the breaker is off). */
const UNTRACKED = -1;

export class UpstreamAdmission {
  /** requests and tunnels holding a slot now */
  inflight = 0;

  constructor(
    readonly upstream: string,
    readonly maxInflight: number,
    readonly breaker: UpstreamBreaker,
    private readonly observers: readonly EgressObserver[],
    /** egress.upstreams.NAME.rateLimit; undefined when none is configured */
    readonly limiter?: UpstreamRateLimiter,
  ) {}

  /** A breaker ticket (hand it to `report`) with a slot taken, or why not. */
  enter(): number | Failure {
    if (this.inflight >= this.maxInflight) {
      for (const o of this.observers) o.bulkheadRejected(this.upstream);
      return failure('overloaded', `more than ${this.maxInflight} requests and tunnels in flight to ${this.upstream}`, { headers: ['retry-after', '1'] });
    }
    let ticket = UNTRACKED;
    if (this.breaker.enabled) {
      ticket = this.breaker.admit();
      if (ticket === REFUSED) {
        for (const o of this.observers) o.breakerRejected(this.upstream);
        const { message, headers } = this.breaker.refusal();
        return failure('circuit_open', message, { headers });
      }
    }
    this.inflight++;
    return ticket;
  }

  /**
   * After `enter`: the rate limiter's token. 0: go now; ms: `waiter` hears when to go (it holds
   * its slot and ticket meanwhile); a Failure: refused, the slot given back and the ticket closed.
   */
  pace(ticket: number, waiter: RateWaiter): number | Failure {
    const limiter = this.limiter;
    if (limiter === undefined) return 0;
    const wait = limiter.take(waiter);
    if (wait >= 0) return wait;
    this.release();
    this.report(ticket, null);
    for (const o of this.observers) o.rateLimited(this.upstream, 'local');
    const { rps, maxWait } = limiter.settings;
    return failure('rate_limited', `${this.upstream} is limited to ${rps} requests per second and the wait would be longer than ${maxWait} ms`, {
      headers: ['retry-after', retryAfterSeconds(limiter.refusedWait())],
    });
  }

  /**
   * The upstream answered `status`: a 429 is counted, and a 429 or 503 with Retry-After holds the
   * limiter for the advised time. Returns the advised ms, or -1.
   */
  answered(status: number, retryAfter: string | string[] | undefined): number {
    if (status !== 429 && status !== 503) return -1;
    if (status === 429) for (const o of this.observers) o.rateLimited(this.upstream, 'upstream');
    const ms = parseRetryAfter(retryAfter);
    if (ms >= 0) this.limiter?.hold(ms);
    return ms;
  }

  /** Gives the slot back. */
  release(): void {
    this.inflight--;
  }

  /**
   * Tells the breaker how the admitted call went: `fault` is what went wrong ("status_503",
   * "timeout", …), undefined for a success, or null when the call said nothing about the
   * upstream's health (the client hung up, or sidelight refused it locally).
   */
  report(ticket: number, fault: string | undefined | null): void {
    if (ticket === UNTRACKED) return;
    if (fault === null) this.breaker.abandoned(ticket);
    else if (fault === undefined) this.breaker.succeeded(ticket);
    else this.breaker.failed(ticket, fault);
  }

  /**
   * The breaker's name for an answer with this status, gRPC status (-1: none) and failure, as
   * `report` takes it. A gRPC answer's HTTP status is 200 whatever happened: its grpc-status says.
   */
  faultOf(status: number, grpcStatus: number, err: Failure | undefined): string | undefined | null {
    if (err !== undefined && !ERRORS[err.code].upstreamFault) return null;
    if (this.breaker.isFailureStatus(status)) return `status_${status}`;
    if (grpcStatus > 0 && this.breaker.isFailureGrpcStatus(grpcStatus)) return `grpc_${grpcStatusName(grpcStatus)}`;
    return err?.errorType;
  }
}
