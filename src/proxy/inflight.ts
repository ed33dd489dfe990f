// In-flight exchanges of one listener: a count for the drain and the overload limit, and each
// exchange's deadline for the phase it is in, checked by one coarse sweep instead of a timer per
// request. Body chunks only stamp `lastActivity` with the sweep's own clock (no clock read per
// chunk); the sweep works the true deadline out from the phase when the listed one has passed.
import { DeadlineList } from './deadline-list.js';
import type { Exchange, TimeoutLimits } from './exchange.js';
import { UpstreamTimeoutError } from '../errors.js';
import { grpcDeadlineExceeded, maxDuration, streamIdleTimeout } from './timeout-errors.js';

/** A configured duration where 0 means "no limit". */
export const limit = (ms: number | undefined): number => (ms === undefined || ms <= 0 ? Infinity : ms);

export const NONE = 0;
/** the request body is still arriving: idle */
export const UPLOAD = 1;
/** the request is in, the response head is awaited: head */
export const HEAD = 2;
/** the response body is streaming: idle */
export const BODY = 3;
/** a CONNECT tunnel: counted, never swept (its idle timeout is its own) */
export const TUNNEL = 4;

/** When the exchange's current phase runs out, by the limits alone. */
function due(ex: Exchange, limits: TimeoutLimits): number {
  const cap = ex.startedAt + limits.max;
  const phase = ex.phase === HEAD ? ex.requestEndedAt + limits.head : ex.lastActivity + limits.idle;
  return phase < cap ? phase : cap;
}

export class Inflight {
  private readonly list = new DeadlineList<Exchange>((ex) => this.expire(ex));
  /** exchanges with no deadline (CONNECT tunnels, which live as long as their sockets): counted, never swept */
  private untimed = 0;
  private idleWaiters: Array<() => void> = [];

  /** the time to stamp activity with: performance.now() at most one sweep (25 ms) ago */
  get now(): number {
    return this.list.now;
  }

  get count(): number {
    return this.list.count + this.untimed;
  }

  /**
   * Registers an exchange; `limits` undefined: a tunnel, counted until removed. An exchange whose
   * request body is still to come (`ex.requestBody`) starts in UPLOAD, any other in HEAD.
   */
  add(ex: Exchange, limits: TimeoutLimits | undefined): void {
    if (limits === undefined) {
      ex.phase = TUNNEL;
      this.untimed++;
      return;
    }
    ex.limits = limits;
    ex.lastActivity = ex.startedAt;
    if (ex.requestBody === undefined) {
      ex.phase = HEAD;
      ex.requestEndedAt = ex.startedAt;
    } else ex.phase = UPLOAD;
    ex.deadline = due(ex, limits);
    this.list.add(ex);
  }

  /** The request body has fully arrived: the head timeout starts, unless the answer already has. */
  requestEnded(ex: Exchange, now: number): void {
    ex.requestEndedAt = now;
    if (ex.phase !== UPLOAD) return;
    ex.phase = HEAD;
    ex.deadline = due(ex, ex.limits!);
  }

  /** The response head went out: from here only silence (and maxDuration) end the exchange. */
  responseStarted(ex: Exchange): void {
    if (ex.phase !== UPLOAD && ex.phase !== HEAD) return;
    ex.phase = BODY;
    ex.lastActivity = this.list.now;
    ex.deadline = due(ex, ex.limits!);
  }

  remove(ex: Exchange): void {
    if (ex.phase === TUNNEL) this.untimed--;
    else if (!this.list.remove(ex)) return;
    ex.phase = NONE;
    ex.deadline = 0;
    if (this.count !== 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Ends every timed exchange with `reason` (the drain ran out). */
  cutAll(reason: Error): void {
    this.list.forEach((ex) => this.cut(ex, reason));
  }

  /** Resolves once nothing is in flight. */
  idle(): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private expire(ex: Exchange): void {
    if (ex.timedOut) return;
    const limits = ex.limits!;
    const now = performance.now();
    const at = due(ex, limits);
    if (at > now) {
      ex.deadline = at;
      return;
    }
    const capped = ex.startedAt + limits.max <= now;
    const cap = ex.grpcDeadline === 0 ? maxDuration : grpcDeadlineExceeded;
    this.cut(ex, capped ? cap : ex.phase === HEAD ? new UpstreamTimeoutError() : streamIdleTimeout);
  }

  private cut(ex: Exchange, reason: Error): void {
    if (ex.timedOut) return;
    ex.timedOut = true;
    // Never swept again; `remove` takes it off the list when the exchange completes.
    ex.deadline = Infinity;
    ex.upstreamCall?.abort(reason);
  }
}
