// The ingress SERVER span: one per request, child of the caller's valid trace context, named and
// attributed per the HTTP semantic conventions. Its context goes to the app (traceparent, and B3
// when the caller spoke B3), back to the caller (traceresponse) and into the access log.
// Secrets never become attributes: no headers but User-Agent, and url.path without the query.
import { SpanKind, SpanStatusCode, type Span } from '@opentelemetry/api';
import type { Exchange } from '../proxy/exchange.js';
import type { Layer } from '../proxy/layer.js';
import { b3EncodingOf, extractParent, pushTraceHeaders, TRACE_HEADERS, traceparent } from '../telemetry/trace-context.js';
import type { Tracing } from '../telemetry/tracing.js';

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

/** Span name and http.request.method per semconv: unknown methods are "_OTHER" and the name is "HTTP". */
export function spanMethod(method: string): string | undefined {
  return KNOWN_METHODS.has(method) ? method : undefined;
}

export function tracingLayer(tracing: Tracing): Layer {
  const tracer = tracing.tracer;
  const inflight = tracing.inflight;
  return {
    name: 'tracing',
    ownsRequestHeaders: TRACE_HEADERS,
    onRequest(ex) {
      const headers = ex.req.headers;
      const method = spanMethod(ex.method);
      const span = tracer.startSpan(method ?? 'HTTP', { kind: SpanKind.SERVER }, extractParent(headers));
      const sc = span.spanContext();
      ex.span = span;
      ex.traceId = sc.traceId;
      ex.spanId = sc.spanId;
      ex.traceSampled = (sc.traceFlags & 1) === 1;
      pushTraceHeaders(ex.forwardHeaders, sc, b3EncodingOf(headers));
      inflight.add(ex.requestId, span);
      if (span.isRecording()) {
        span.setAttribute('http.request.method', method ?? '_OTHER');
        if (method === undefined) span.setAttribute('http.request.method_original', ex.method);
        span.setAttribute('url.path', ex.path);
        span.setAttribute('url.scheme', 'encrypted' in ex.req.socket ? 'https' : 'http');
        const host = headers.host;
        if (host) setServerAddress(span, host);
        if (ex.remoteAddress) span.setAttribute('client.address', ex.remoteAddress);
        const ua = headers['user-agent'];
        if (ua) span.setAttribute('user_agent.original', ua);
        span.setAttribute('sidelight.request_id', ex.requestId);
      }
      return undefined;
    },
    onResponse(ex, headers) {
      if (ex.traceId) headers.traceresponse = traceparent((ex.span as Span).spanContext());
    },
    onDone(ex) {
      const span = ex.span as Span | undefined;
      if (!span) return;
      inflight.remove(ex.requestId, span);
      if (span.isRecording()) finishServerSpan(span, ex);
      span.end();
    },
  };
}

function setServerAddress(span: Span, host: string): void {
  // host[:port] or [v6]:port
  const close = host.lastIndexOf(']');
  const colon = host.lastIndexOf(':');
  if (colon > close) {
    span.setAttribute('server.address', host.slice(0, colon).replace(/^\[|\]$/g, ''));
    const port = Number(host.slice(colon + 1));
    if (Number.isInteger(port) && port > 0) span.setAttribute('server.port', port);
  } else {
    span.setAttribute('server.address', host.replace(/^\[|\]$/g, ''));
  }
}

function finishServerSpan(span: Span, ex: Exchange): void {
  if (ex.route) {
    span.setAttribute('http.route', ex.route);
    span.updateName(`${spanMethod(ex.method) ?? 'HTTP'} ${ex.route}`);
  }
  const status = ex.status;
  if (status > 0) span.setAttribute('http.response.status_code', status);
  if (ex.upstream) span.setAttribute('sidelight.upstream', ex.upstream);
  if (ex.errorCode) span.setAttribute('sidelight.error_code', ex.errorCode);
  // Server spans: 5xx (and no answer at all) are errors; 4xx are the caller's.
  const errorType = ex.errorType ?? (status >= 500 ? String(status) : undefined);
  if (errorType) span.setAttribute('error.type', errorType);
  if (status >= 500 || (status === 0 && errorType)) span.setStatus({ code: SpanStatusCode.ERROR });
}
