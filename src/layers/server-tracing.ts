// The ingress SERVER span: one per request, child of the caller's valid trace context, named and
// attributed per the HTTP semantic conventions. Its context goes to the app (traceparent, and B3
// when the caller spoke B3), back to the caller (traceresponse) and into the access log; the span
// itself is one record written when the exchange is over.
// Secrets never become attributes: no headers but User-Agent and Host, and url.path without the query.
import type { Exchange } from '../proxy/exchange.js';
import type { Layer } from '../proxy/layer.js';
import { ATTR, pushServerAddress, spanMethod } from '../telemetry/spans/semconv.js';
import { epochMs, SpanKind, SpanRecord, type AttributeKey, type AttributeValue } from '../telemetry/spans/span-record.js';
import { newSpanId, newTraceId } from '../telemetry/spans/ids.js';
import { b3EncodingOf, extractParent, pushTraceHeaders, spanFlags, TRACE_HEADERS, traceparent } from '../telemetry/trace-context.js';
import type { Tracing } from '../telemetry/tracing.js';

/**
 * `indexForEgress`: keep each exchange's trace context findable by its request id while it is in
 * flight, for egress calls that carry only X-Request-ID. Without configured upstreams there are
 * no egress spans to parent, and the index is not kept.
 */
export function serverTracingLayer(tracing: Tracing, { indexForEgress }: { indexForEgress: boolean }): Layer {
  const { sample } = tracing;
  const inflight = indexForEgress ? tracing.inflight : undefined;
  return {
    name: 'server-tracing',
    ownsRequestHeaders: TRACE_HEADERS,
    onRequest(ex) {
      const headers = ex.req.headers;
      const parent = extractParent(headers);
      ex.parent = parent;
      ex.traceId = parent ? parent.traceId : newTraceId();
      ex.spanId = newSpanId();
      ex.traceSampled = sample(ex.traceId, parent?.sampled);
      ex.traceFlags = spanFlags(ex.traceSampled, parent);
      const traceState = parent ? parent.traceState : '';
      pushTraceHeaders(ex.forwardHeaders, ex, traceState, b3EncodingOf(headers));
      if (inflight) {
        // A small record of its own, not the Exchange: a finished exchange must not stay reachable
        // from this long-lived map (see InflightSpans.remove).
        ex.inflightTrace = { traceId: ex.traceId, spanId: ex.spanId, flags: ex.traceFlags, sampled: ex.traceSampled, traceState, remote: false };
        inflight.add(ex.requestId, ex.inflightTrace);
      }
      return undefined;
    },
    onResponse(ex, headers) {
      headers.traceresponse = traceparent(ex.traceId, ex.spanId, ex.traceFlags);
    },
    onDone(ex) {
      if (ex.inflightTrace) inflight!.remove(ex.requestId, ex.inflightTrace);
      if (ex.traceSampled) tracing.record(serverSpan(ex));
    },
  };
}

function serverSpan(ex: Exchange): SpanRecord {
  const method = spanMethod(ex.method);
  const attrs: Array<AttributeKey | AttributeValue> = [ATTR.method, method ?? '_OTHER'];
  if (method === undefined) attrs.push(ATTR.methodOriginal, ex.method);
  attrs.push(ATTR.urlPath, ex.path, ATTR.urlScheme, 'http');
  const host = ex.req.headers.host;
  if (host) pushServerAddress(attrs, host);
  if (ex.remoteAddress) attrs.push(ATTR.clientAddress, ex.remoteAddress);
  const ua = ex.req.headers['user-agent'];
  if (ua) attrs.push(ATTR.userAgent, ua);
  attrs.push(ATTR.requestId, ex.requestId);
  if (ex.route) attrs.push(ATTR.route, ex.route);
  const status = ex.status;
  if (status > 0) attrs.push(ATTR.status, status);
  if (ex.upstream) attrs.push(ATTR.upstreamName, ex.upstream);
  if (ex.errorCode) attrs.push(ATTR.errorCode, ex.errorCode);
  // Server spans: 5xx (and no answer at all) are errors; 4xx are the caller's.
  const errorType = ex.errorType ?? (status >= 500 ? String(status) : undefined);
  if (errorType) attrs.push(ATTR.errorType, errorType);
  const name = ex.route ? `${method ?? 'HTTP'} ${ex.route}` : (method ?? 'HTTP');
  const start = epochMs(ex.startedAt);
  return new SpanRecord(ex, ex.parent, SpanKind.Server, name, start, start + ex.durationMs, status >= 500 || (status === 0 && errorType !== undefined), attrs);
}
