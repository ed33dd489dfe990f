// Breaker state changes in the log: a warning when a circuit opens (requests to that upstream
// now fail fast), info when it half-opens for a trial and when it closes again.
import type { Logger } from '../telemetry/logger.js';
import type { EgressObserver } from './observer.js';

const ignore = (): void => {};

export function breakerLog(logger: Logger): EgressObserver {
  return {
    breakerStateChanged(upstream, to) {
      if (to === 'open') logger.warn({ msg: 'circuit open', upstream, detail: `requests to ${upstream} fail fast with 503 circuit_open until a trial succeeds` });
      else logger.info({ msg: to === 'closed' ? 'circuit closed' : 'circuit half-open', upstream });
    },
    breakerRejected: ignore,
    bulkheadRejected: ignore,
    rateLimited: ignore,
    retried: ignore,
    retryBudgetExhausted: ignore,
  };
}
