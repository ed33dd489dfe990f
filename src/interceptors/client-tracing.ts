// The egress CLIENT span: one per try (retries are separate spans with http.request.resend_count),
// composed onto each upstream's dispatcher as an undici interceptor. Its parent is the trace
// context the app sent; else the ingress span still in flight with the same X-Request-ID (an app
// with no tracing code still gets one connected trace); else a new trace. Its context replaces the
// app's in the request sent upstream. No headers and no query string become attributes.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import type { Dispatcher } from 'undici';
import { classify } from '../proxy/errors.js';
import type { Exchange } from '../proxy/exchange.js';
import type { ProxyDispatchOptions, TryInterceptorFactory } from '../proxy/layer.js';
import { b3EncodingOf, extractParent, replaceTraceHeaders } from '../telemetry/trace-context.js';
import type { Tracing } from '../telemetry/tracing.js';
import { spanMethod } from './tracing.js';
import { TryOutcomeHandler } from './try-outcome.js';

/** The parent of an egress exchange's tries, worked out on its first try and kept on ex.span. */
function parentOf(ex: Exchange | undefined, tracing: Tracing): Context {
  if (ex === undefined) return ROOT_CONTEXT;
  if (ex.span !== undefined) return ex.span as Context;
  let parent = extractParent(ex.req.headers);
  if (parent === ROOT_CONTEXT && ex.requestId) {
    const ingress = tracing.inflight.get(ex.requestId);
    if (ingress !== undefined) parent = trace.setSpan(ROOT_CONTEXT, ingress);
  }
  ex.span = parent;
  return parent;
}

/** Per-try CLIENT spans for one upstream; compose it with the upstream's other per-try interceptors. */
export function clientTracingInterceptor(tracing: Tracing): TryInterceptorFactory {
  const tracer = tracing.tracer;
  return (upstream) => {
    let address: string | undefined;
    let port: number | undefined;
    let origin: string | undefined;
    return (dispatch) =>
      function tracedDispatch(opts: ProxyDispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
        const ex = opts.exchange;
        const method = spanMethod(opts.method);
        const span = tracer.startSpan(method ?? 'HTTP', { kind: SpanKind.CLIENT }, parentOf(ex, tracing));
        const sc = span.spanContext();
        if (ex !== undefined) {
          ex.traceId = sc.traceId;
          ex.spanId = sc.spanId;
          ex.traceSampled = (sc.traceFlags & 1) === 1;
        }
        if (span.isRecording()) {
          if (origin === undefined) {
            const url = new URL(String(opts.origin));
            origin = url.origin;
            address = url.hostname.replace(/^\[|\]$/g, '');
            port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
          }
          const path = opts.path;
          const q = path.indexOf('?');
          span.setAttribute('http.request.method', method ?? '_OTHER');
          if (method === undefined) span.setAttribute('http.request.method_original', opts.method);
          span.setAttribute('server.address', address!);
          span.setAttribute('server.port', port!);
          span.setAttribute('url.full', origin + (q === -1 ? path : path.slice(0, q)));
          span.setAttribute('upstream', upstream);
          if (opts.attempt) span.setAttribute('http.request.resend_count', opts.attempt);
          if (ex?.requestId) span.setAttribute('sidelight.request_id', ex.requestId);
        }
        const headers = replaceTraceHeaders(opts.headers as Parameters<typeof replaceTraceHeaders>[0], sc, ex ? b3EncodingOf(ex.req.headers) : 0);
        const wrapped = new ClientSpanHandler(handler, span);
        try {
          return dispatch({ ...opts, headers } as ProxyDispatchOptions, wrapped);
        } catch (err) {
          wrapped.endTry(err as Error);
          throw err;
        }
      };
  };
}

/** Ends the span once, when the try ends either way. */
class ClientSpanHandler extends TryOutcomeHandler {
  constructor(
    handler: Dispatcher.DispatchHandler,
    private readonly span: Span,
  ) {
    super(handler);
  }

  protected tryEnded(err: Error | undefined): void {
    const span = this.span;
    if (span.isRecording()) {
      const status = this.status;
      if (status > 0) span.setAttribute('http.response.status_code', status);
      // Client spans: 4xx and 5xx are errors, and so is no answer.
      const type = err ? classify(err).errorType : status >= 400 ? String(status) : undefined;
      if (type !== undefined) {
        span.setAttribute('error.type', type);
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
    }
    span.end();
  }
}
