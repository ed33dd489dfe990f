// What the egress resilience parts (breaker, bulkhead, retry) report, so metrics can count it
// without the breaker or the retry knowing about Prometheus. Wired in src/sidecar.ts.

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface EgressObserver {
  breakerStateChanged(upstream: string, to: BreakerState): void;
  /** a try refused because the circuit is open */
  breakerRejected(upstream: string): void;
  /** a try refused because the upstream's maxInflight was reached */
  bulkheadRejected(upstream: string): void;
  /** a request or tunnel refused by the upstream's rate limiter (local), or a 429 from the upstream */
  rateLimited(upstream: string, source: 'local' | 'upstream'): void;
  /** a retry is about to be sent; reason: "status_503", "connection_reset", "timeout", … */
  retried(upstream: string, reason: string): void;
  /** a retry was wanted but the retry budget was spent */
  retryBudgetExhausted(upstream: string): void;
}
