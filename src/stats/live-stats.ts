// GET /stats and `sidelight stat`: per ingress route, per ingress gRPC method and per upstream,
// the request rate, success ratio and p50/p95/p99 over the last 10 s and 1 min, with the latency
// z-score against the row's own baseline. Nothing here runs per request: once a second the
// duration histograms that the metrics already keep are summed per row and sampled
// (src/stats/sampled-row.ts), so memory is bounded by the rows, and the rows by metrics.maxSeries.
import type { RateLimiterView, UpstreamRateLimiter } from '../egress/rate-limiter.js';
import type { IngressLimitView } from '../layers/rate-limit.js';
import type { HistogramFamily, HistogramSeries, ValueFamily } from '../telemetry/metric-family.js';
import type { Metrics } from '../telemetry/metrics.js';
import { Baseline, BASELINE_INTERVAL_S } from './baseline.js';
import { MAX_WINDOW_SECONDS, quantile, SampledRow, type RowCounters, type WindowCounts } from './sampled-row.js';
import { TunnelStats, type TunnelStatsRow, type TunnelTotalsSource } from './tunnel-stats.js';

/** the row that holds a histogram's overflow series (metrics.maxSeries reached) */
export const OVERFLOW_ROW = '(overflow)';
const WINDOW_10S = 10;

export interface UpstreamView {
  readonly name: string;
  readonly breaker: { readonly state: string };
  readonly admission: { readonly inflight: number; readonly maxInflight: number; readonly limiter?: UpstreamRateLimiter };
}

export interface LiveStatsSources {
  /** undefined when metrics.enabled is false: then only in-flight and breaker states are known */
  metrics: Metrics | undefined;
  /** rpc_server_call_duration_seconds: the ingress gRPC calls */
  grpcCalls?: HistogramFamily;
  /** sidelight_upstream_retries_total, by upstream and reason */
  retries: ValueFamily | undefined;
  listeners: ReadonlyArray<{ name: string; inflight: { readonly count: number } }>;
  upstreams: readonly UpstreamView[];
  /** egress CONNECT tunnels' totals; undefined when metrics or tunnels are off */
  tunnels?: TunnelTotalsSource;
  /** ingress.rateLimit and the routes' limits */
  ingressLimits: ReadonlyArray<{ view(): IngressLimitView }>;
  draining(): boolean;
  ready(): boolean;
}

/** GET /stats, as sent */
export interface StatsWindow {
  /** seconds the window really spans (less than its name while the sidecar is young) */
  seconds: number;
  requests: number;
  rate: number | null;
  successRatio: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  retries: number;
}

export interface StatsFigures {
  '10s': StatsWindow;
  '1m': StatsWindow;
  zscore: number | null;
  baseline: { p95Ms: number | null; stddevMs: number | null; updates: number };
}

export interface StatsReport {
  time: string;
  metrics: boolean;
  ready: boolean;
  draining: boolean;
  listeners: Array<{ listener: string; inflight: number }>;
  routes: Array<{ listener: string; route: string } & StatsFigures>;
  /** ingress gRPC calls per method ("package.Service/Method"; "_OTHER" past the method cap) */
  grpcMethods: Array<{ listener: string; method: string; statuses: GrpcStatusCount[] } & StatsFigures>;
  upstreams: Array<{ upstream: string; breaker: string; inflight: number; maxInflight: number; rateLimit?: RateLimiterView } & Partial<StatsFigures>>;
  /** egress CONNECT tunnels per upstream; empty when tunnels or metrics are off */
  tunnels: TunnelStatsRow[];
  /** the ingress rate limits, when any is configured */
  rateLimits: IngressLimitView[];
}

/** how many calls ended with a status since sidelight started ("" : no status) */
export interface GrpcStatusCount {
  status: string;
  calls: number;
}

/** the statuses shown per gRPC method, most frequent first */
const TOP_STATUSES = 3;

interface Row {
  sampled: SampledRow;
  baseline: Baseline;
}

/** how a label set adds to its row: the index of the label that names the row, and of error_type */
interface Source {
  family: HistogramFamily;
  keyLabel: number;
  errorLabel: number;
  rows: Map<string, Row>;
}

const round = (n: number, digits = 3) => (Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : null);

export class LiveStats {
  private readonly routes: Source | undefined;
  private readonly grpcRows: Source | undefined;
  private readonly upstreamRows: Source | undefined;
  private readonly tunnels: TunnelStats | undefined;
  private ticks = 0;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(private readonly sources: LiveStatsSources) {
    const m = sources.metrics;
    this.tunnels = sources.tunnels && new TunnelStats(sources.tunnels);
    if (m) {
      this.routes = source(m.serverDuration, 'http_route');
      this.grpcRows = sources.grpcCalls && source(sources.grpcCalls, 'rpc_method');
      this.upstreamRows = source(m.clientDuration, 'upstream');
      this.sample();
      this.timer = setInterval(() => this.sample(), 1000);
      this.timer.unref();
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** one sample of every row; every BASELINE_INTERVAL_S samples, the baselines learn the last minute */
  sample(): void {
    this.tunnels?.sample();
    if (!this.routes || !this.upstreamRows) return;
    const retries = new Map<string, number>();
    this.sources.retries?.forEachSeries((values, s) => {
      const upstream = values?.[0] ?? OVERFLOW_ROW;
      retries.set(upstream, (retries.get(upstream) ?? 0) + s.value);
    });
    for (const u of this.sources.upstreams) this.row(this.upstreamRows, u.name);
    const learn = ++this.ticks % BASELINE_INTERVAL_S === 0;
    for (const source of [this.routes, this.upstreamRows, ...(this.grpcRows ? [this.grpcRows] : [])]) {
      const sums = sumByRow(source);
      for (const [key, counters] of sums) {
        counters.retries = source === this.upstreamRows ? (retries.get(key) ?? 0) : 0;
        this.row(source, key).sampled.record(counters);
      }
      for (const [key, row] of source.rows) {
        if (!sums.has(key)) row.sampled.record(zeroCounters(source));
        if (learn) {
          const minute = row.sampled.window(MAX_WINDOW_SECONDS);
          row.baseline.update(quantile(0.95, source.family.bounds, minute.buckets) * 1000, minute.count);
        }
      }
    }
  }

  report(): StatsReport {
    const { sources } = this;
    return {
      time: new Date().toISOString(),
      metrics: sources.metrics !== undefined,
      ready: sources.ready(),
      draining: sources.draining(),
      listeners: sources.listeners.map((l) => ({ listener: l.name, inflight: l.inflight.count })),
      routes: this.routes ? [...this.routes.rows].map(([route, row]) => ({ listener: 'ingress', route, ...this.figures(this.routes!, row) })) : [],
      grpcMethods: this.grpcMethods(),
      upstreams: sources.upstreams.map((u) => {
        const row = this.upstreamRows?.rows.get(u.name);
        return {
          upstream: u.name,
          breaker: u.breaker.state,
          inflight: u.admission.inflight,
          maxInflight: u.admission.maxInflight,
          ...(u.admission.limiter ? { rateLimit: u.admission.limiter.view() } : {}),
          ...(row ? this.figures(this.upstreamRows!, row) : {}),
        };
      }),
      tunnels: this.tunnels?.report() ?? [],
      rateLimits: sources.ingressLimits.map((l) => l.view()),
    };
  }

  private grpcMethods(): StatsReport['grpcMethods'] {
    const source = this.grpcRows;
    if (!source) return [];
    const statuses = statusCounts(source.family);
    return [...source.rows].map(([method, row]) => ({
      listener: 'ingress',
      method,
      statuses: [...(statuses.get(method) ?? [])]
        .map(([status, calls]) => ({ status, calls }))
        .sort((a, b) => b.calls - a.calls)
        .slice(0, TOP_STATUSES),
      ...this.figures(source, row),
    }));
  }

  private figures(source: Source, row: Row): StatsFigures {
    const view = (seconds: number) => windowView(row.sampled.window(seconds), source);
    const minute = view(MAX_WINDOW_SECONDS);
    const b = row.baseline;
    return {
      '10s': view(WINDOW_10S),
      '1m': minute,
      zscore: round(b.zscore(minute.p95Ms ?? NaN) ?? NaN, 2),
      baseline: { p95Ms: b.updates ? round(b.mean) : null, stddevMs: b.updates ? round(b.stddev) : null, updates: b.updates },
    };
  }

  private row(source: Source, key: string): Row {
    let row = source.rows.get(key);
    if (!row) {
      // A series is born at its first observation: before this sample, its counts were zero.
      row = { sampled: new SampledRow(source.family.bounds.length + 1), baseline: new Baseline() };
      row.sampled.record(zeroCounters(source));
      source.rows.set(key, row);
    }
    return row;
  }
}

function source(family: HistogramFamily, rowLabel: string): Source {
  return { family, keyLabel: family.labelNames.indexOf(rowLabel), errorLabel: family.labelNames.indexOf('error_type'), rows: new Map() };
}

function windowView(w: WindowCounts, source: Source): StatsWindow {
  const bounds = source.family.bounds;
  return {
    seconds: w.seconds,
    requests: w.count,
    rate: w.seconds ? round(w.count / w.seconds) : 0,
    successRatio: w.count ? round((w.count - w.errors) / w.count, 4) : null,
    p50Ms: round(quantile(0.5, bounds, w.buckets) * 1000),
    p95Ms: round(quantile(0.95, bounds, w.buckets) * 1000),
    p99Ms: round(quantile(0.99, bounds, w.buckets) * 1000),
    retries: w.retries,
  };
}

function zeroCounters(source: Source): RowCounters {
  return { buckets: new Float64Array(source.family.bounds.length + 1), count: 0, errors: 0, retries: 0 };
}

/** The family's series summed per row key: buckets, count, and the count of those with an error type. */
function sumByRow(source: Source): Map<string, RowCounters> {
  const sums = new Map<string, RowCounters>();
  const width = source.family.bounds.length + 1;
  source.family.forEachSeries((values, s: HistogramSeries) => {
    const key = values ? values[source.keyLabel] : OVERFLOW_ROW;
    let sum = sums.get(key);
    if (!sum) sums.set(key, (sum = { buckets: new Float64Array(width), count: 0, errors: 0, retries: 0 }));
    for (let i = 0; i < width; i++) sum.buckets[i] += s.counts[i];
    sum.count += s.count;
    // The overflow series mixes every label set: its errors cannot be told apart.
    if (values && values[source.errorLabel] !== '') sum.errors += s.count;
  });
  return sums;
}

/** rpc_method → rpc_status_code → calls, summed over error types; the overflow series has no labels to tell */
function statusCounts(family: HistogramFamily): Map<string, Map<string, number>> {
  const methodLabel = family.labelNames.indexOf('rpc_method');
  const statusLabel = family.labelNames.indexOf('rpc_status_code');
  const counts = new Map<string, Map<string, number>>();
  family.forEachSeries((values, s) => {
    if (!values) return;
    let byStatus = counts.get(values[methodLabel]);
    if (!byStatus) counts.set(values[methodLabel], (byStatus = new Map()));
    byStatus.set(values[statusLabel], (byStatus.get(values[statusLabel]) ?? 0) + s.count);
  });
  return counts;
}
