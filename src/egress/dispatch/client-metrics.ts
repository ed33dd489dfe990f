// Per-try egress metrics: http_client_request_duration_seconds (one observation per try, retries
// included; http_route is the upstream's route template the request matched, or "") and http_client_active_requests{upstream}. An undici interceptor, so it sees exactly
// what each try did: the status, or the failure (timeout, refused, reset, TLS, circuit open, …).
// Compose it outside the breaker and bulkhead so their local refusals are counted too.
import type { Dispatcher } from 'undici';
import { ClientAbortedError, classify } from '../../errors.js';
import type { ProxyDispatchOptions, SpanIds, TryInterceptorFactory } from '../../proxy/layer.js';
import { SAMPLED } from '../../telemetry/trace-context.js';
import type { HistogramSeries, ValueSeries } from '../../telemetry/metric-family.js';
import { METHODS, errorTypeIndex, errorTypeLabel, methodIndex, seriesKey, statusIndex, statusLabel } from '../../telemetry/labels.js';
import type { Metrics } from '../../telemetry/metrics.js';
import { TryOutcomeHandler } from './try-outcome.js';

/** One upstream's series: bound on first use per (route, method, status, error type), then reused. */
class UpstreamTries {
  /** the calls that matched no route (all of them when the upstream has no routes): series key → series */
  private readonly unrouted = new Map<number, HistogramSeries>();
  /** route template → series key → series; the templates are the upstream's configured routes */
  private readonly byRoute = new Map<string, Map<number, HistogramSeries>>();
  readonly active: ValueSeries;

  constructor(
    private readonly metrics: Metrics,
    private readonly upstream: string,
  ) {
    this.active = metrics.clientActiveFor(upstream);
  }

  record(route: string, method: number, status: number, errorType: string | undefined, seconds: number, span: SpanIds | undefined): void {
    this.active.value--;
    const e = errorTypeIndex(errorType);
    const key = seriesKey(method, status, e);
    let cache = this.unrouted;
    if (route !== '') {
      const found = this.byRoute.get(route);
      if (found === undefined) this.byRoute.set(route, (cache = new Map()));
      else cache = found;
    }
    let series = cache.get(key);
    if (series === undefined) {
      series = this.metrics.clientDuration.child([this.upstream, METHODS[method], statusLabel(status), route, errorTypeLabel(e)]);
      if (!series.overflow) cache.set(key, series);
    }
    if (span !== undefined && (span.traceFlags & SAMPLED) !== 0) series.observeWithTrace(seconds, span.traceId);
    else series.observe(seconds);
  }
}

/** Records the try once, when it ends either way. */
class TryMetricsHandler extends TryOutcomeHandler {
  private readonly startedAt = performance.now();

  constructor(
    handler: Dispatcher.DispatchHandler,
    private readonly tries: UpstreamTries,
    private readonly method: number,
    /** the request's route template (egress.upstreams.NAME.routes), "" when none matched */
    private readonly route: string,
    /** the try's own span, for the exemplar */
    private readonly span: SpanIds | undefined,
  ) {
    super(handler);
  }

  protected tryEnded(err: Error | undefined): void {
    // The client semantic conventions make a 5xx answer an error typed by its status code; the
    // app hanging up is not an upstream failure, so it stays apart from connection errors.
    const errorType = err
      ? err instanceof ClientAbortedError
        ? 'client_aborted'
        : classify(err).errorType
      : this.status >= 500
        ? statusLabel(statusIndex(this.status))
        : undefined;
    this.tries.record(this.route, this.method, statusIndex(this.status), errorType, (performance.now() - this.startedAt) / 1000, this.span);
  }
}

/** The per-try metrics interceptor, built once per upstream. */
export function clientMetricsInterceptor(metrics: Metrics): TryInterceptorFactory {
  return (upstream) => {
    const tries = new UpstreamTries(metrics, upstream);
    return (dispatch) => (opts, handler) => {
      const method = methodIndex(opts.method);
      const context = (opts as ProxyDispatchOptions).context;
      const wrapped = new TryMetricsHandler(handler, tries, method, context ? context.request.route : '', context?.span);
      tries.active.value++;
      try {
        return dispatch(opts, wrapped);
      } catch (err) {
        wrapped.endTry(err as Error);
        throw err;
      }
    };
  };
}
