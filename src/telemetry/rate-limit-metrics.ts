// sidelight_rate_limit_hits_total: requests sidelight refused over a rate limit (source="local":
// ingress.rateLimit, a route's, an upstream's) and 429s the upstreams answered (source="upstream").
// Labels are the listeners, the configured upstreams and the two sources.
import type { ValueFamily } from './metric-family.js';
import type { MetricRegistry } from './metric-registry.js';

export type RateLimitSource = 'local' | 'upstream';

export class RateLimitHits {
  private readonly family: ValueFamily;

  constructor(registry: MetricRegistry) {
    this.family = registry.counter(
      'sidelight_rate_limit_hits_total',
      'Requests refused by a rate limit of sidelight\'s (source="local") and 429 answers from upstreams (source="upstream").',
      ['listener', 'upstream', 'source'],
    );
  }

  /** at 0 from the start, so rate() and the alerts have a baseline */
  declare(listener: string, upstream: string): void {
    this.family.child([listener, upstream, 'local']);
    if (listener === 'egress') this.family.child([listener, upstream, 'upstream']);
  }

  hit(listener: string, upstream: string, source: RateLimitSource): void {
    this.family.child([listener, upstream, source]).value++;
  }
}
