// Per-try egress metrics: http_client_request_duration_seconds (one observation per try, retries
// included; http_route is the upstream's route template the request matched, or "") and http_client_active_requests{upstream};
// a gRPC try also gets one rpc_client_call_duration_seconds observation. An undici interceptor, so it sees exactly
// what each try did: the status, or the failure (timeout, refused, reset, TLS, circuit open, …).
// Compose it outside the breaker and bulkhead so their local refusals are counted too.
import type { Dispatcher } from 'undici';
import { ClientAbortedError, classify } from '../../errors.js';
import type { GrpcFaults } from '../../net/grpc-faults.js';
import { grpcStatusName } from '../../net/grpc-status.js';
import type { ProxyDispatchOptions, SpanIds, TryInterceptorFactory } from '../../proxy/layer.js';
import { SAMPLED } from '../../telemetry/trace-context.js';
import { OTHER_GRPC_METHOD, type GrpcMethods, type UpstreamGrpcMethods } from '../../telemetry/grpc-methods.js';
import type { HistogramSeries, ValueSeries } from '../../telemetry/metric-family.js';
import { METHODS, errorTypeIndex, errorTypeLabel, methodIndex, seriesKey, statusIndex, statusLabel } from '../../telemetry/labels.js';
import type { Metrics } from '../../telemetry/metrics.js';
import type { RpcCalls, RpcMetrics } from '../../telemetry/rpc-metrics.js';
import { isGrpcRequest, TryOutcomeHandler } from './try-outcome.js';

/** What the gRPC tries of all upstreams share. */
export interface ClientRpc {
  readonly metrics: RpcMetrics;
  /** grpc.errorCodes: the statuses that are errors in the RED figures */
  readonly faults: GrpcFaults;
  readonly methods: UpstreamGrpcMethods;
}

function observe(series: HistogramSeries, seconds: number, span: SpanIds | undefined): void {
  if (span !== undefined && (span.traceFlags & SAMPLED) !== 0) series.observeWithTrace(seconds, span.traceId);
  else series.observe(seconds);
}

/** One upstream's series: bound on first use per (route, method, status, error type), then reused. */
class UpstreamTries {
  /** the calls that matched no route (all of them when the upstream has no routes): series key → series */
  private readonly unrouted = new Map<number, HistogramSeries>();
  /** route template → series key → series; the templates are the upstream's configured routes */
  private readonly byRoute = new Map<string, Map<number, HistogramSeries>>();
  readonly active: ValueSeries;
  private readonly calls: RpcCalls;
  private readonly methods: GrpcMethods;
  private readonly methodOverflow: ValueSeries;

  constructor(
    private readonly metrics: Metrics,
    private readonly upstream: string,
    readonly rpc: ClientRpc,
  ) {
    this.active = metrics.clientActiveFor(upstream);
    this.calls = rpc.metrics.clientCalls(upstream);
    this.methods = rpc.methods.of(upstream);
    this.methodOverflow = rpc.metrics.methodOverflowFor(upstream);
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
    observe(series, seconds, span);
  }

  /** a gRPC try: `path` is the request-target it was sent to, `status` -1 when no grpc-status came */
  recordCall(path: string, status: number, errorType: string | undefined, seconds: number, span: SpanIds | undefined): void {
    const q = path.indexOf('?');
    const route = this.methods.route(q === -1 ? path : path.slice(0, q));
    if (route === OTHER_GRPC_METHOD) this.methodOverflow.value++;
    observe(this.calls.series(route, status, errorType), seconds, span);
  }
}

/** Records the try once, when it ends either way. */
class TryMetricsHandler extends TryOutcomeHandler {
  private readonly startedAt = performance.now();

  constructor(
    handler: Dispatcher.DispatchHandler,
    private readonly tries: UpstreamTries,
    private readonly opts: Dispatcher.DispatchOptions,
    private readonly method: number,
    /** the request's route template (egress.upstreams.NAME.routes), "" when none matched */
    private readonly route: string,
    /** the try's own span, for the exemplar */
    private readonly span: SpanIds | undefined,
  ) {
    super(handler);
  }

  protected tryEnded(err: Error | undefined): void {
    // The client semantic conventions make a 5xx answer an error typed by its status code (a
    // gRPC answer: a status in grpc.errorCodes, typed by its name); the app hanging up is not an
    // upstream failure, so it stays apart from connection errors.
    const grpcStatus = this.grpcStatus;
    const errorType = err
      ? err instanceof ClientAbortedError
        ? 'client_aborted'
        : classify(err).errorType
      : grpcStatus >= 0
        ? this.tries.rpc.faults.isFault(grpcStatus)
          ? grpcStatusName(grpcStatus)
          : undefined
        : this.status >= 500
          ? statusLabel(statusIndex(this.status))
          : undefined;
    const seconds = (performance.now() - this.startedAt) / 1000;
    this.tries.record(this.route, this.method, statusIndex(this.status), errorType, seconds, this.span);
    // A try that failed before any answer is a gRPC call when its request said so.
    if (this.grpc || (err !== undefined && this.status === 0 && isGrpcRequest(this.opts.headers))) {
      this.tries.recordCall(this.opts.path, grpcStatus, errorType, seconds, this.span);
    }
  }
}

/** The per-try metrics interceptor, built once per upstream. */
export function clientMetricsInterceptor(metrics: Metrics, rpc: ClientRpc): TryInterceptorFactory {
  return (upstream) => {
    const tries = new UpstreamTries(metrics, upstream, rpc);
    return (dispatch) => (opts, handler) => {
      const method = methodIndex(opts.method);
      const context = (opts as ProxyDispatchOptions).context;
      const wrapped = new TryMetricsHandler(handler, tries, opts, method, context ? context.request.route : '', context?.span);
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
