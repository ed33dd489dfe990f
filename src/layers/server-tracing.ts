// The ingress SERVER span: one per request, child of the caller's valid trace context, named and
// attributed per the HTTP semantic conventions. Its context goes to the app (traceparent, and B3
// when the caller spoke B3), back to the caller (traceresponse) and into the access log; the span
// itself is one record written when the exchange is over. A gRPC call's span is named and
// attributed per the RPC conventions too ("package.Service/Method", rpc.*), and is an error for
// the statuses in grpc.errorCodes.
// Secrets never become attributes: no headers but User-Agent and Host, and url.path without the query.
import type { GrpcFaults } from '../net/grpc-faults.js';
import type { Exchange } from '../proxy/exchange.js';
import type { Layer } from '../proxy/layer.js';
import { ATTR, pushRpcAttributes, pushServerAddress, spanMethod } from '../telemetry/spans/semconv.js';
import { epochMs, SpanKind, SpanRecord, type AttributeKey, type AttributeValue } from '../telemetry/spans/span-record.js';
import { newSpanId, newTraceId } from '../telemetry/spans/ids.js';
import { b3EncodingOf, extractParent, pushTraceHeaders, spanFlags, TRACE_HEADERS, traceparent } from '../telemetry/trace-context.js';
import type { Tracing } from '../telemetry/tracing.js';
import { rpcErrorType, serverErrorType } from './server-metrics.js';

/**
 * `indexForEgress`: keep each exchange's trace context findable by its request id while it is in
 * flight, for egress calls that carry only X-Request-ID. Without configured upstreams there are
 * no egress spans to parent, and the index is not kept.
 */
export function serverTracingLayer(tracing: Tracing, { indexForEgress, faults }: { indexForEgress: boolean; faults: GrpcFaults }): Layer {
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
      if (ex.traceSampled) tracing.record(serverSpan(ex, faults));
    },
  };
}

function serverSpan(ex: Exchange, faults: GrpcFaults): SpanRecord {
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
  // Server spans: 5xx (and no answer at all) are errors; 4xx are the caller's. gRPC: the statuses in grpc.errorCodes.
  const start = epochMs(ex.startedAt);
  if (ex.grpc) {
    const rpcError = rpcErrorType(ex, faults);
    if (rpcError) attrs.push(ATTR.errorType, rpcError);
    const name = pushRpcAttributes(attrs, ex.route, ex.path, ex.grpcStatus);
    return new SpanRecord(ex, ex.parent, SpanKind.Server, name, start, start + ex.durationMs, rpcError !== undefined, attrs);
  }
  const errorType = serverErrorType(ex, faults);
  if (errorType) attrs.push(ATTR.errorType, errorType);
  const name = ex.route ? `${method ?? 'HTTP'} ${ex.route}` : (method ?? 'HTTP');
  return new SpanRecord(ex, ex.parent, SpanKind.Server, name, start, start + ex.durationMs, status >= 500 || (status === 0 && errorType !== undefined), attrs);
}
