// RED metrics for the ingress listener: one http_server_request_duration_seconds observation per
// exchange, and the active-requests gauge. The histogram series for a (route, method, status,
// error type) combination is bound once and cached, so the hot path allocates nothing.
import type { Layer } from '../proxy/layer.js';
import type { Exchange } from '../proxy/exchange.js';
import type { HistogramSeries } from '../telemetry/metric-family.js';
import { METHODS, errorTypeIndex, errorTypeLabel, methodIndex, seriesKey, statusIndex, statusLabel } from '../telemetry/labels.js';
import type { Metrics } from '../telemetry/metrics.js';

/** OpenTelemetry: a 5xx answer is an error whose type is its status code. */
export function serverErrorType(ex: Exchange): string | undefined {
  return ex.errorType ?? (ex.status >= 500 ? statusLabel(statusIndex(ex.status)) : undefined);
}

/**
 * Place it before any layer that can reject (drain, overload): a request counts as active from
 * its onRequest to its onDone, and the layers before it (request id, tracing) never reject.
 */
export function serverMetricsLayer(metrics: Metrics): Layer {
  const family = metrics.serverDuration;
  // route template (the config's own string, or "") → series key → series
  const byRoute = new Map<string, Map<number, HistogramSeries>>();

  const bind = (ex: Exchange, cache: Map<number, HistogramSeries>, key: number, m: number, s: number, e: number): HistogramSeries => {
    const series = family.child([METHODS[m], statusLabel(s), ex.route, errorTypeLabel(e)]);
    if (!series.overflow) cache.set(key, series);
    return series;
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
      const e = errorTypeIndex(serverErrorType(ex));
      const key = seriesKey(m, s, e);
      const series = cache.get(key) ?? bind(ex, cache, key, m, s, e);
      const seconds = ex.durationMs / 1000;
      if (ex.traceSampled && ex.traceId) series.observeWithTrace(seconds, ex.traceId);
      else series.observe(seconds);
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
