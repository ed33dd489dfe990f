// RED metrics for the ingress listener: one http_server_request_duration_seconds observation per
// exchange, and the active-requests gauge; a gRPC call also gets one rpc_server_call_duration_seconds
// observation. The histogram series for a (route, method, status, error type) combination is bound
// once and cached, so the hot path allocates nothing.
import type { Layer } from '../proxy/layer.js';
import type { Exchange } from '../proxy/exchange.js';
import type { GrpcFaults } from '../net/grpc-faults.js';
import { grpcStatusName } from '../net/grpc-status.js';
import type { HistogramSeries } from '../telemetry/metric-family.js';
import { OTHER_GRPC_METHOD } from '../telemetry/grpc-methods.js';
import { METHODS, errorTypeIndex, errorTypeLabel, methodIndex, seriesKey, statusIndex, statusLabel } from '../telemetry/labels.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { RpcMetrics } from '../telemetry/rpc-metrics.js';

/**
 * error_type of http_server_request_duration_seconds. OpenTelemetry: a 5xx answer is an error
 * whose type is its status code; sidelight's own failure class comes first; a gRPC call's status
 * in `faults` (grpc.errorCodes) is an error typed by the status name.
 */
export function serverErrorType(ex: Exchange, faults: GrpcFaults): string | undefined {
  if (ex.errorType !== undefined) return ex.errorType;
  if (ex.grpc && faults.isFault(ex.grpcStatus)) return grpcStatusName(ex.grpcStatus);
  return ex.status >= 500 ? statusLabel(statusIndex(ex.status)) : undefined;
}

/**
 * error_type of a gRPC call (rpc_server_call_duration_seconds, the server span): per the RPC
 * conventions the status decides when there is one, sidelight's own answers included (their
 * status says what happened: UNAVAILABLE, DEADLINE_EXCEEDED, …); a call cut before any status is
 * typed as its exchange is.
 */
export function rpcErrorType(ex: Exchange, faults: GrpcFaults): string | undefined {
  if (ex.grpcStatus >= 0) return faults.isFault(ex.grpcStatus) ? grpcStatusName(ex.grpcStatus) : undefined;
  return ex.errorType ?? (ex.status >= 500 ? statusLabel(statusIndex(ex.status)) : undefined);
}

/**
 * Place it before any layer that can reject (drain, overload): a request counts as active from
 * its onRequest to its onDone, and the layers before it (request id, tracing) never reject.
 */
export function serverMetricsLayer(metrics: Metrics, rpc: RpcMetrics, faults: GrpcFaults): Layer {
  const family = metrics.serverDuration;
  // route template (the config's own string, or "") → series key → series
  const byRoute = new Map<string, Map<number, HistogramSeries>>();
  const calls = rpc.serverCalls();
  const methodOverflow = rpc.methodOverflowFor('app');

  const bind = (ex: Exchange, cache: Map<number, HistogramSeries>, key: number, m: number, s: number, e: number): HistogramSeries => {
    const series = family.child([METHODS[m], statusLabel(s), ex.route, errorTypeLabel(e)]);
    if (!series.overflow) cache.set(key, series);
    return series;
  };
  const observe = (series: HistogramSeries, ex: Exchange, seconds: number): void => {
    if (ex.traceSampled && ex.traceId) series.observeWithTrace(seconds, ex.traceId);
    else series.observe(seconds);
  };

  return {
    name: 'metrics',
    onRequest() {
      metrics.serverActive++;
      return undefined;
    },
    onDone(ex) {
      metrics.serverActive--;
      let cache = byRoute.get(ex.route);
      if (cache === undefined) byRoute.set(ex.route, (cache = new Map()));
      const m = methodIndex(ex.method);
      const s = statusIndex(ex.status);
      const e = errorTypeIndex(serverErrorType(ex, faults));
      const key = seriesKey(m, s, e);
      const seconds = ex.durationMs / 1000;
      observe(cache.get(key) ?? bind(ex, cache, key, m, s, e), ex, seconds);
      if (ex.grpc) {
        if (ex.route === OTHER_GRPC_METHOD) methodOverflow.value++;
        observe(calls.series(ex.route, ex.grpcStatus, rpcErrorType(ex, faults)), ex, seconds);
      }
    },
  };
}

/**
 * On egress listeners: requests answered before any upstream was chosen (unknown upstream,
 * listener overloaded) never reach a try, so http_client_* cannot show them; this counts them.
 */
export function egressRejectionsLayer(metrics: Metrics): Layer {
  return {
    name: 'metrics',
    onDone(ex) {
      if (ex.upstream === '' && ex.errorCode) metrics.countEgressRejection(ex.listener, ex.errorCode);
    },
  };
}
