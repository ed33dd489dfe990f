// The HTTP metrics (the design's RED families for ingress and for each egress try), the span
// export counters, the connection pools read at scrape time and the build info. Other concerns
// register their own families on the same registry where they are created: egress resilience
// (src/egress/egress-metrics.ts), tunnels (src/egress/tunnel-metrics.ts), the lifecycle
// (src/lifecycle/lifecycle-metrics.ts) and the tap (src/tap/tap-metrics.ts).
import type { ConnectionObserver } from '../proxy/stale-connection.js';
import { VERSION } from '../version.js';
import type { ValueSeries } from './metric-family.js';
import { MetricRegistry } from './metric-registry.js';

/** OpenTelemetry HTTP semantic-convention boundaries, seconds */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10] as const;

export const SERVER_LABELS = ['http_request_method', 'http_response_status_code', 'http_route', 'error_type'] as const;
export const CLIENT_LABELS = ['upstream', 'http_request_method', 'http_response_status_code', 'http_route', 'error_type'] as const;

const POOL_STATES = ['connected', 'free', 'pending', 'queued', 'running'] as const;

export interface PoolStatsSource {
  readonly stats: { connected: number; free: number; pending: number; queued: number; running: number };
}

export interface MetricsOptions {
  /** series per duration histogram before new label sets fold into the overflow series */
  maxSeries: number;
}

export class Metrics extends MetricRegistry implements ConnectionObserver {
  readonly serverDuration = this.histogram(
    'http_server_request_duration_seconds',
    'Duration of inbound HTTP requests through the ingress listener, seconds.',
    SERVER_LABELS,
    DURATION_BUCKETS,
  );
  /** requests being served on ingress; a plain number the layer bumps, copied into the gauge at scrape time */
  serverActive = 0;
  private readonly serverActiveGauge = this.gauge('http_server_active_requests', 'Inbound requests being served now.');
  readonly clientDuration = this.histogram(
    'http_client_request_duration_seconds',
    'Duration of each outbound HTTP try to an upstream, seconds; one observation per try.',
    CLIENT_LABELS,
    DURATION_BUCKETS,
  );
  readonly clientActive = this.gauge('http_client_active_requests', 'Outbound tries in flight now, per upstream.', ['upstream']);
  private readonly staleRetries = this.counter(
    'sidelight_upstream_stale_connection_retries_total',
    'Requests sent again on another connection because a reused keep-alive connection broke before any response byte ("app" is the ingress pool).',
    ['upstream'],
  );
  private readonly egressRejections = this.counter(
    'sidelight_egress_rejections_total',
    'Egress requests answered by sidelight before an upstream was chosen (unknown_upstream, upstream_not_allowed, bad_request, overloaded).',
    ['listener', 'reason'],
  );
  private readonly spansDropped = this.counter(
    'sidelight_trace_spans_dropped_total',
    'Finished spans not exported: queue_full (OTEL_BSP_MAX_QUEUE_SIZE reached: the collector is down or slow) or export_failed (the collector did not take a batch).',
    ['reason'],
  );
  private readonly spansExported = this.counter('sidelight_trace_spans_exported_total', 'Finished spans the collector accepted.');
  private readonly pool = this.gauge('sidelight_upstream_pool', 'Connection pool per upstream, read at scrape time ("app" is the ingress pool).', ['upstream', 'state']);
  private readonly poolMax = this.gauge(
    'sidelight_upstream_pool_max_connections',
    "The upstream pool's connection limit (egress.upstreams.*.connections); absent for the uncapped app pool.",
    ['upstream'],
  );
  private readonly buildInfo = this.gauge('sidelight_build_info', 'Always 1; the labels say which sidelight and Node.js run.', ['version', 'node']);

  constructor(options: MetricsOptions) {
    super(options.maxSeries);
    this.buildInfo.child([VERSION, process.version]).value = 1;
    // at 0 from the start, so rate() has a baseline
    for (const reason of ['queue_full', 'export_failed']) this.spansDropped.child([reason]);
    this.spansExported.child([]);
    const active = this.serverActiveGauge.child([]);
    this.onScrape(() => (active.value = this.serverActive));
  }

  /** the active-requests series of one upstream, bound once by the client interceptor */
  clientActiveFor(upstream: string): ValueSeries {
    return this.clientActive.child([upstream]);
  }

  countDroppedSpans(count: number, reason: string): void {
    this.spansDropped.child([reason]).value += count;
  }

  countExportedSpans(count: number): void {
    this.spansExported.child([]).value += count;
  }

  countEgressRejection(listener: string, reason: string): void {
    this.egressRejections.child([listener, reason]).value++;
  }

  // ConnectionObserver
  staleConnectionRetried(upstream: string): void {
    this.staleRetries.child([upstream]).value++;
  }

  /** pool stats are read when Prometheus scrapes, never per request */
  watchPool(upstream: string, pool: PoolStatsSource, maxConnections?: number): void {
    if (maxConnections !== undefined) this.poolMax.child([upstream]).value = maxConnections;
    this.staleRetries.child([upstream]); // at 0 from the start, so rate() has a baseline
    const series = POOL_STATES.map((state) => this.pool.child([upstream, state]));
    this.onScrape(() => {
      const stats = pool.stats;
      for (let i = 0; i < POOL_STATES.length; i++) series[i].value = stats[POOL_STATES[i]];
    });
  }
}
