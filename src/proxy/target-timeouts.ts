// The timeout limits an exchange runs under. A target may choose them per exchange (ingress: by
// route); otherwise its whole-request `timeout` bounds the wait for the response head and each
// silence while a body moves.
import type { Exchange, TimeoutLimits } from './exchange.js';
import { limit } from './inflight.js';
import type { Target } from './layer.js';

export interface TimedTarget extends Target {
  /** the limits for this exchange, chosen once it is routed */
  timeouts?(ex: Exchange): TimeoutLimits;
}

const byTarget = new WeakMap<Target, TimeoutLimits>();

export function timeoutsOf(target: TimedTarget, ex: Exchange): TimeoutLimits {
  if (target.timeouts) return target.timeouts(ex);
  let limits = byTarget.get(target);
  if (limits === undefined) {
    const ms = limit(target.timeout);
    limits = { head: ms, idle: ms, max: Infinity };
    byTarget.set(target, limits);
  }
  return limits;
}
