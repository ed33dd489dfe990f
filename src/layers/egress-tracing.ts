// Egress trace context, worked out once per request (or CONNECT) before any try: the parent of
// the tries' CLIENT spans is the trace context the app sent; else the ingress span still in
// flight with the same X-Request-ID (an app with no tracing code still gets one connected
// trace), under the app's own sampling decision if it sent one alone; else none, and each try
// starts a trace. The app's trace headers are the layer's: the
// tries' interceptor (src/egress/dispatch/client-tracing.ts) sends each try's own. What the
// tries report comes back here, so the access log and the tap name the latest try's span.
import type { Layer } from '../proxy/layer.js';
import { b3EncodingOf, extractParent, TRACE_HEADERS } from '../telemetry/trace-context.js';
import type { Tracing } from '../telemetry/tracing.js';

export function egressTracingLayer(tracing: Tracing): Layer {
  const inflight = tracing.inflight;
  return {
    name: 'egress-tracing',
    ownsRequestHeaders: TRACE_HEADERS,
    onRequest(ex) {
      const headers = ex.req.headers;
      const sent = extractParent(headers);
      ex.b3Encoding = b3EncodingOf(headers);
      if (sent !== undefined && sent.spanId !== '') {
        ex.parent = sent;
        return undefined;
      }
      const ingress = ex.requestId ? inflight.get(ex.requestId) : undefined;
      // A sampling decision the app sent without ids (B3 `b3: 0`) is the app's, under the ingress span too.
      ex.parent = ingress !== undefined && sent !== undefined ? { ...ingress, sampled: sent.sampled } : (ingress ?? sent);
      return undefined;
    },
    onTry(ex, { span }) {
      if (span === undefined) return;
      ex.traceId = span.traceId;
      ex.spanId = span.spanId;
      ex.traceFlags = span.traceFlags;
      ex.traceSampled = (span.traceFlags & 1) === 1;
    },
  };
}
