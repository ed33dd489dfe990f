// Each upstream limiter's state on /metrics, read at scrape time (nothing per request): tokens
// (negative: owed to waiting callers), callers queued, and the waits so far. Its refusals and the
// upstream's 429s are sidelight_rate_limit_hits_total (src/telemetry/rate-limit-metrics.ts).
import type { MetricRegistry } from '../telemetry/metric-registry.js';
import type { UpstreamRateLimiter } from './rate-limiter.js';

export function watchRateLimiters(registry: MetricRegistry, limiters: ReadonlyArray<{ name: string; limiter: UpstreamRateLimiter }>): void {
  if (limiters.length === 0) return;
  const tokens = registry.gauge('sidelight_upstream_rate_limit_tokens', "Tokens in the upstream's rate limiter now; negative: owed to requests waiting for their turn.", ['upstream']);
  const queued = registry.gauge('sidelight_upstream_rate_limit_queued', "Requests and tunnels waiting for a token of the upstream's rate limiter now.", ['upstream']);
  const waits = registry.counter('sidelight_upstream_rate_limit_waits_total', "Requests and tunnels that waited for a token of the upstream's rate limiter (within maxWait).", ['upstream']);
  const waited = registry.counter('sidelight_upstream_rate_limit_wait_seconds_total', 'Seconds those requests and tunnels waited, summed.', ['upstream']);
  const rows = limiters.map(({ name, limiter }) => ({ limiter, tokens: tokens.child([name]), queued: queued.child([name]), waits: waits.child([name]), waited: waited.child([name]) }));
  registry.onScrape(() => {
    for (const r of rows) {
      r.tokens.value = r.limiter.tokens;
      r.queued.value = r.limiter.queued;
      r.waits.value = r.limiter.waited;
      r.waited.value = r.limiter.waitedMs / 1000;
    }
  });
}
