// Readiness and the drain as metrics, read at scrape time: sidelight_ready, sidelight_draining,
// how long the drain has run, and its configured bound (a drain lasting longer is stuck).
import type { MetricRegistry } from '../telemetry/metric-registry.js';
import type { DrainState } from './drain.js';

export function watchLifecycle(registry: MetricRegistry, state: { ready(): boolean; drain: DrainState; drainTimeoutMs: number }): void {
  const ready = registry.gauge('sidelight_ready', '1 when /ready answers 200.').child([]);
  const draining = registry.gauge('sidelight_draining', '1 while the sidecar drains after SIGTERM or POST /drain.').child([]);
  const elapsed = registry.gauge('sidelight_drain_elapsed_seconds', 'Seconds since the drain began; 0 when not draining.').child([]);
  registry.gauge('sidelight_drain_timeout_seconds', 'The configured drain.timeout: a drain lasting longer is stuck.').child([]).value = state.drainTimeoutMs / 1000;
  let drainStartedAt = 0;
  state.drain.once('draining', () => (drainStartedAt = performance.now()));
  registry.onScrape(() => {
    ready.value = state.ready() ? 1 : 0;
    draining.value = state.drain.draining ? 1 : 0;
    elapsed.value = drainStartedAt ? (performance.now() - drainStartedAt) / 1000 : 0;
  });
}
