// sidelight's metrics: every family in the design's Metrics section, the egress observer that
// feeds the breaker and retry counters, scrape-time readings (pools, readiness, drain) and
// prom-client's default process metrics. Rendered on the admin port by src/admin/metrics-route.ts.
import type { Registry, RegistryContentType } from 'prom-client';
import type { BreakerState, EgressObserver } from '../egress/observer.js';
import type { ConnectionObserver } from '../proxy/stale-connection.js';
import type { DrainState } from '../lifecycle/drain.js';
import { VERSION } from '../version.js';
import { HistogramFamily, ValueFamily, type Format, type OverflowSink, type ValueSeries } from './metric-family.js';

/** prom-client's Registry.PROMETHEUS_CONTENT_TYPE and OPENMETRICS_CONTENT_TYPE */
export const CONTENT_TYPE: Record<Format, string> = {
  text: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
};

/** OpenTelemetry HTTP semantic-convention boundaries, seconds */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10] as const;

export const SERVER_LABELS = ['http_request_method', 'http_response_status_code', 'http_route', 'error_type'] as const;
export const CLIENT_LABELS = ['upstream', 'http_request_method', 'http_response_status_code', 'error_type'] as const;

const CONFIG_BOUNDED_SERIES = 10_000;
const BREAKER_STATE_VALUE: Record<BreakerState, number> = { closed: 0, open: 1, half_open: 2 };
const POOL_STATES = ['connected', 'free', 'pending', 'queued', 'running'] as const;

/** prom-client's default gauges whose names end in _total, which `promtool check metrics` rejects */
const LINT_FAILING_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export interface PoolStatsSource {
  readonly stats: { connected: number; free: number; pending: number; queued: number; running: number };
}

/** what the tap reports (src/tap/hub.ts), read at scrape time */
export interface TapStatsSource {
  readonly clients: number;
  readonly counts: { lines: number; droppedRate: number; droppedSlow: number; rejectedClients: number };
}

export interface MetricsOptions {
  /** series per duration histogram before new label sets fold into the overflow series */
  maxSeries: number;
}

export class Metrics implements EgressObserver, ConnectionObserver, OverflowSink {
  readonly serverDuration: HistogramFamily;
  readonly clientDuration: HistogramFamily;
  /** requests being served on ingress; a plain number the layer bumps */
  serverActive = 0;
  readonly clientActive: ValueFamily;
  private readonly breakerState: ValueFamily;
  private readonly breakerTransitions: ValueFamily;
  private readonly breakerRejections: ValueFamily;
  private readonly bulkheadRejections: ValueFamily;
  /** read by /stats (src/stats/live-stats.ts) as well as rendered */
  readonly retries: ValueFamily;
  private readonly budgetExhausted: ValueFamily;
  private readonly staleRetries: ValueFamily;
  private readonly egressRejections: ValueFamily;
  private readonly overflow: ValueFamily;
  private readonly spansDropped: ValueFamily;
  private readonly spansExported: ValueFamily;
  private readonly pool: ValueFamily;
  private readonly poolMax: ValueFamily;
  private readonly drainElapsed: ValueFamily;
  private readonly drainTimeout: ValueFamily;
  private readonly serverActiveGauge: ValueFamily;
  private readonly ready: ValueFamily;
  private readonly draining: ValueFamily;
  private readonly buildInfo: ValueFamily;
  private readonly tapClients: ValueFamily;
  private readonly tapLines: ValueFamily;
  private readonly tapDropped: ValueFamily;
  private readonly tapRejected: ValueFamily;
  private readonly families: Array<HistogramFamily | ValueFamily>;
  /** the series cap of families whose labels the config bounds (upstreams × a fixed vocabulary) */
  readonly boundedSeries: number;
  private readonly scrapeReadings: Array<() => void> = [];
  /** default process metrics, one registry per format: prom-client renames counters in place for OpenMetrics */
  private readonly defaults = new Map<Format, Promise<Registry<RegistryContentType>>>();

  constructor(options: MetricsOptions) {
    const max = options.maxSeries;
    this.serverDuration = new HistogramFamily(
      'http_server_request_duration_seconds',
      'Duration of inbound HTTP requests through the ingress listener, seconds.',
      SERVER_LABELS,
      DURATION_BUCKETS,
      max,
      this,
    );
    this.clientDuration = new HistogramFamily(
      'http_client_request_duration_seconds',
      'Duration of each outbound HTTP try to an upstream, seconds; one observation per try.',
      CLIENT_LABELS,
      DURATION_BUCKETS,
      max,
      this,
    );
    // maxSeries is for families whose labels come from traffic; these are bounded by the config
    // (upstreams × a fixed vocabulary), and a bug is still stopped at the fixed cap.
    const bounded = Math.max(max, CONFIG_BOUNDED_SERIES);
    this.boundedSeries = bounded;
    const gauge = (name: string, help: string, labels: readonly string[] = []) => new ValueFamily('gauge', name, help, labels, bounded, this);
    const counter = (name: string, help: string, labels: readonly string[]) => new ValueFamily('counter', name, help, labels, bounded, this);
    this.serverActiveGauge = gauge('http_server_active_requests', 'Inbound requests being served now.');
    this.clientActive = gauge('http_client_active_requests', 'Outbound tries in flight now, per upstream.', ['upstream']);
    this.breakerState = gauge('sidelight_circuit_breaker_state', 'Circuit breaker state per upstream: 0 closed, 1 open, 2 half-open.', ['upstream']);
    this.breakerTransitions = counter('sidelight_circuit_breaker_transitions_total', 'Circuit breaker state changes, by the state entered.', ['upstream', 'to']);
    this.breakerRejections = counter('sidelight_circuit_breaker_rejections_total', 'Tries refused because the circuit was open.', ['upstream']);
    this.bulkheadRejections = counter('sidelight_upstream_bulkhead_rejections_total', "Tries refused because the upstream's maxInflight was reached.", ['upstream']);
    this.retries = counter('sidelight_upstream_retries_total', 'Retries sent, by the reason of the failed try.', ['upstream', 'reason']);
    this.budgetExhausted = counter('sidelight_upstream_retry_budget_exhausted_total', 'Retries not sent because the retry budget was spent.', ['upstream']);
    this.staleRetries = counter(
      'sidelight_upstream_stale_connection_retries_total',
      'Requests sent again on another connection because a reused keep-alive connection broke before any response byte ("app" is the ingress pool).',
      ['upstream'],
    );
    this.egressRejections = counter('sidelight_egress_rejections_total', 'Egress requests answered by sidelight before an upstream was chosen (unknown_upstream, upstream_not_allowed, bad_request, overloaded).', ['listener', 'reason']);
    // Not capped by maxSeries: one series per family at most, and it must never fold into itself.
    this.overflow = new ValueFamily('counter', 'sidelight_metrics_overflow_total', 'Observations folded into a family\'s overflow series because it reached metrics.maxSeries.', ['metric'], 1000);
    this.spansDropped = counter(
      'sidelight_trace_spans_dropped_total',
      'Finished spans not exported: queue_full (OTEL_BSP_MAX_QUEUE_SIZE reached: the collector is down or slow) or export_failed (the collector did not take a batch).',
      ['reason'],
    );
    this.spansExported = counter('sidelight_trace_spans_exported_total', 'Finished spans the collector accepted.', []);
    // at 0 from the start, so rate() has a baseline
    for (const reason of ['queue_full', 'export_failed']) this.spansDropped.child([reason]);
    this.spansExported.child([]);
    this.pool = gauge('sidelight_upstream_pool', 'Connection pool per upstream, read at scrape time ("app" is the ingress pool).', ['upstream', 'state']);
    this.poolMax = gauge('sidelight_upstream_pool_max_connections', "The upstream pool's connection limit (egress.upstreams.*.connections); absent for the uncapped app pool.", ['upstream']);
    this.drainElapsed = gauge('sidelight_drain_elapsed_seconds', 'Seconds since the drain began; 0 when not draining.');
    this.drainTimeout = gauge('sidelight_drain_timeout_seconds', 'The configured drain.timeout: a drain lasting longer is stuck.');
    this.ready = gauge('sidelight_ready', '1 when /ready answers 200.');
    this.draining = gauge('sidelight_draining', '1 while the sidecar drains after SIGTERM or POST /drain.');
    this.buildInfo = gauge('sidelight_build_info', 'Always 1; the labels say which sidelight and Node.js run.', ['version', 'node']);
    this.buildInfo.child([VERSION, process.version]).value = 1;
    this.tapClients = gauge('sidelight_tap_clients', 'Clients connected to GET /tap now.');
    this.tapLines = counter('sidelight_tap_lines_total', 'Lines sent to tap clients.', []);
    this.tapDropped = counter('sidelight_tap_dropped_lines_total', 'Lines a tap client did not get: over admin.tap.maxLinesPerSecond (rate) or its socket could not keep up (slow).', ['reason']);
    this.tapRejected = counter('sidelight_tap_rejected_clients_total', 'Tap clients turned away because admin.tap.maxClients were connected.', []);
    this.families = [
      this.serverDuration,
      this.serverActiveGauge,
      this.clientDuration,
      this.clientActive,
      this.breakerState,
      this.breakerTransitions,
      this.breakerRejections,
      this.bulkheadRejections,
      this.retries,
      this.budgetExhausted,
      this.staleRetries,
      this.egressRejections,
      this.spansDropped,
      this.spansExported,
      this.pool,
      this.poolMax,
      this.ready,
      this.draining,
      this.drainElapsed,
      this.drainTimeout,
      this.buildInfo,
      this.tapClients,
      this.tapLines,
      this.tapDropped,
      this.tapRejected,
      this.overflow,
    ];
  }

  /**
   * Starts prom-client's process metrics (event-loop lag, GC, heap, handles). Called once the
   * listeners are up: loading prom-client and starting its collectors before them held /live
   * back by 10–20 ms (median of 10 starts). A scrape before this starts them itself.
   */
  startProcessMetrics(): void {
    void this.defaultRegistry('text');
  }

  // OverflowSink
  overflowed(family: string): void {
    this.overflow.child([family]).value++;
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

  // EgressObserver
  breakerStateChanged(upstream: string, to: BreakerState): void {
    this.breakerState.child([upstream]).value = BREAKER_STATE_VALUE[to];
    this.breakerTransitions.child([upstream, to]).value++;
  }

  breakerRejected(upstream: string): void {
    this.breakerRejections.child([upstream]).value++;
  }

  bulkheadRejected(upstream: string): void {
    this.bulkheadRejections.child([upstream]).value++;
  }

  retried(upstream: string, reason: string): void {
    this.retries.child([upstream, reason]).value++;
  }

  retryBudgetExhausted(upstream: string): void {
    this.budgetExhausted.child([upstream]).value++;
  }

  // ConnectionObserver
  staleConnectionRetried(upstream: string): void {
    this.staleRetries.child([upstream]).value++;
  }

  /** every configured upstream shows a closed breaker and zero counts before anything happens */
  declareUpstream(upstream: string): void {
    this.breakerState.child([upstream]);
    this.breakerRejections.child([upstream]);
    this.clientActive.child([upstream]);
  }

  /** Families kept by another module (src/telemetry/tunnel-metrics.ts), rendered with these; `read` runs at each scrape. */
  adopt(families: ReadonlyArray<HistogramFamily | ValueFamily>, read: () => void): void {
    this.families.push(...families);
    this.scrapeReadings.push(read);
  }

  /** pool stats are read when Prometheus scrapes, never per request */
  watchPool(upstream: string, pool: PoolStatsSource, maxConnections?: number): void {
    if (maxConnections !== undefined) this.poolMax.child([upstream]).value = maxConnections;
    this.staleRetries.child([upstream]); // at 0 from the start, so rate() has a baseline
    const series = POOL_STATES.map((state) => this.pool.child([upstream, state]));
    this.scrapeReadings.push(() => {
      const stats = pool.stats;
      for (let i = 0; i < POOL_STATES.length; i++) series[i].value = stats[POOL_STATES[i]];
    });
  }

  watchLifecycle(state: { ready(): boolean; drain: DrainState; drainTimeoutMs: number }): void {
    const ready = this.ready.child([]);
    const draining = this.draining.child([]);
    const elapsed = this.drainElapsed.child([]);
    this.drainTimeout.child([]).value = state.drainTimeoutMs / 1000;
    let drainStartedAt = 0;
    state.drain.once('draining', () => (drainStartedAt = performance.now()));
    this.scrapeReadings.push(() => {
      ready.value = state.ready() ? 1 : 0;
      draining.value = state.drain.draining ? 1 : 0;
      elapsed.value = drainStartedAt ? (performance.now() - drainStartedAt) / 1000 : 0;
    });
  }

  watchTap(tap: TapStatsSource): void {
    const clients = this.tapClients.child([]);
    const lines = this.tapLines.child([]);
    const rate = this.tapDropped.child(['rate']);
    const slow = this.tapDropped.child(['slow']);
    const rejected = this.tapRejected.child([]);
    this.scrapeReadings.push(() => {
      clients.value = tap.clients;
      lines.value = tap.counts.lines;
      rate.value = tap.counts.droppedRate;
      slow.value = tap.counts.droppedSlow;
      rejected.value = tap.counts.rejectedClients;
    });
  }

  async render(format: Format): Promise<string> {
    for (const read of this.scrapeReadings) read();
    this.serverActiveGauge.child([]).value = this.serverActive;
    let out = '';
    for (const f of this.families) out += f.render(format);
    // prom-client's default metrics come last: in OpenMetrics its output carries the closing "# EOF".
    return out + (await (await this.defaultRegistry(format)).metrics());
  }

  private defaultRegistry(format: Format): Promise<Registry<RegistryContentType>> {
    let registry = this.defaults.get(format);
    if (!registry) {
      // prom-client is CommonJS: its exports sit on the namespace's default (named ones exist only outside the bundle).
      registry = import('prom-client').then(({ default: { Registry, collectDefaultMetrics } }) => {
        const r = new Registry<RegistryContentType>();
        r.setContentType(CONTENT_TYPE[format] as RegistryContentType);
        collectDefaultMetrics({ register: r });
        for (const name of LINT_FAILING_DEFAULTS) r.removeSingleMetric(name);
        return r;
      });
      this.defaults.set(format, registry);
    }
    return registry;
  }
}

