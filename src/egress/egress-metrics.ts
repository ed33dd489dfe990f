// The egress resilience counters, fed by what the breaker, the admission and the retries report
// (src/egress/observer.ts): breaker state and transitions, local refusals, retries and the
// retry budget, rate-limit hits. Labels are the configured upstreams and fixed vocabularies.
import type { ValueFamily } from '../telemetry/metric-family.js';
import type { MetricRegistry } from '../telemetry/metric-registry.js';
import type { RateLimitHits } from '../telemetry/rate-limit-metrics.js';
import type { BreakerState, EgressObserver } from './observer.js';

const BREAKER_STATE_VALUE: Record<BreakerState, number> = { closed: 0, open: 1, half_open: 2 };

export interface EgressMetrics extends EgressObserver {
  /** retries by upstream and reason, read by /stats as well as rendered */
  readonly retries: ValueFamily;
  /** every configured upstream shows a closed breaker and zero refusals before anything happens */
  declareUpstream(upstream: string): void;
}

export function egressMetrics(registry: MetricRegistry, rateLimitHits: RateLimitHits): EgressMetrics {
  const breakerState = registry.gauge('sidelight_circuit_breaker_state', 'Circuit breaker state per upstream: 0 closed, 1 open, 2 half-open.', ['upstream']);
  const transitions = registry.counter('sidelight_circuit_breaker_transitions_total', 'Circuit breaker state changes, by the state entered.', ['upstream', 'to']);
  const breakerRejections = registry.counter('sidelight_circuit_breaker_rejections_total', 'Tries refused because the circuit was open.', ['upstream']);
  const bulkheadRejections = registry.counter(
    'sidelight_upstream_bulkhead_rejections_total',
    "Tries and tunnels refused because the upstream's maxInflight was reached.",
    ['upstream'],
  );
  const retries = registry.counter('sidelight_upstream_retries_total', 'Retries sent, by the reason of the failed try.', ['upstream', 'reason']);
  const budgetExhausted = registry.counter('sidelight_upstream_retry_budget_exhausted_total', 'Retries not sent because the retry budget was spent.', ['upstream']);
  return {
    retries,
    declareUpstream(upstream) {
      breakerState.child([upstream]);
      breakerRejections.child([upstream]);
      rateLimitHits.declare('egress', upstream);
    },
    breakerStateChanged(upstream, to) {
      breakerState.child([upstream]).value = BREAKER_STATE_VALUE[to];
      transitions.child([upstream, to]).value++;
    },
    breakerRejected(upstream) {
      breakerRejections.child([upstream]).value++;
    },
    bulkheadRejected(upstream) {
      bulkheadRejections.child([upstream]).value++;
    },
    rateLimited(upstream, source) {
      rateLimitHits.hit('egress', upstream, source);
    },
    retried(upstream, reason) {
      retries.child([upstream, reason]).value++;
    },
    retryBudgetExhausted(upstream) {
      budgetExhausted.child([upstream]).value++;
    },
  };
}
