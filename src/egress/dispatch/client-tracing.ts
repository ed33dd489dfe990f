// The egress CLIENT span: one per try (retries are separate spans with http.request.resend_count),
// composed onto each upstream's dispatcher as an undici interceptor. Its parent is the trace
// context the app sent; else the ingress span still in flight with the same X-Request-ID (an app
// with no tracing code still gets one connected trace); else the try starts a new trace. Its
// context replaces the app's in the request sent upstream. No headers and no query string
// become attributes.
import type { Dispatcher } from 'undici';
import { classify } from '../../errors.js';
import type { Exchange } from '../../proxy/exchange.js';
import type { ProxyDispatchOptions, TryInterceptorFactory } from '../../proxy/layer.js';
import { newSpanId, newTraceId } from '../../telemetry/spans/ids.js';
import { unbracket, urlPort } from '../../net/address.js';
import { ATTR, spanMethod } from '../../telemetry/spans/semconv.js';
import { epochMs, SpanKind, SpanRecord, type AttributeKey, type AttributeValue } from '../../telemetry/spans/span-record.js';
import { b3EncodingOf, B3Encoding, extractParent, replaceTraceHeaders, SAMPLED, type OutgoingContext } from '../../telemetry/trace-context.js';
import type { Tracing } from '../../telemetry/tracing.js';
import { adoptRemoteParent } from '../../layers/server-tracing.js';
import { TryOutcomeHandler } from './try-outcome.js';

/** The parent of an egress exchange's tries (or of its tunnel), worked out once and kept on the exchange. */
export function resolveParent(ex: Exchange, tracing: Tracing): void {
  ex.parentResolved = true;
  const sent = extractParent(ex.req.headers);
  if (sent) {
    adoptRemoteParent(ex, sent);
    ex.traceFlags = sent.flags & ~SAMPLED;
    return;
  }
  const ingress = ex.requestId ? tracing.inflight.get(ex.requestId) : undefined;
  if (ingress !== undefined) {
    ex.traceId = ingress.traceId;
    ex.parentSpanId = ingress.spanId;
    ex.parentSampled = (ingress.traceFlags & SAMPLED) === SAMPLED;
    ex.traceState = ingress.traceState;
    ex.traceFlags = ingress.traceFlags & ~SAMPLED;
  }
}

/** What a try's span needs from its upstream, worked out on the first try. */
interface UpstreamAddress {
  origin: string;
  address: string;
  port: number;
}

function addressOf(origin: string): UpstreamAddress {
  const url = new URL(origin);
  return { origin: url.origin, address: unbracket(url.hostname), port: urlPort(url) };
}

/** One try's span context: what goes upstream, and what the record is made of. */
class TrySpan implements OutgoingContext {
  readonly startedAt = performance.now();
  constructor(
    readonly traceId: string,
    readonly spanId: string,
    readonly traceFlags: number,
    readonly traceState: string,
    readonly parentSpanId: string,
    readonly parentRemote: boolean,
  ) {}
}

/** Per-try CLIENT spans for one upstream; compose it with the upstream's other per-try interceptors. */
export function clientTracingInterceptor(tracing: Tracing): TryInterceptorFactory {
  return (upstream) => {
    let address: UpstreamAddress | undefined;
    return (dispatch) =>
      function tracedDispatch(opts: ProxyDispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
        const ex = opts.exchange;
        if (ex !== undefined && !ex.parentResolved) resolveParent(ex, tracing);
        // A try with no parent starts its own trace; tries under a parent share the parent's.
        const traceId = ex?.parentSpanId ? ex.traceId : newTraceId();
        const sampled = tracing.sample(traceId, ex?.parentSpanId ? ex.parentSampled : undefined);
        const span = new TrySpan(
          traceId,
          newSpanId(),
          // The parent's other flags (W3C Level 2 "random") carry on; ex.traceFlags holds them.
          (sampled ? SAMPLED : 0) | (ex?.parentSpanId ? ex.traceFlags & ~SAMPLED : 0),
          ex?.traceState ?? '',
          ex?.parentSpanId ?? '',
          ex?.parentRemote ?? false,
        );
        if (ex !== undefined) {
          ex.traceId = traceId;
          ex.spanId = span.spanId;
          ex.traceSampled = sampled;
          ex.traceFlags = span.traceFlags;
        }
        const headers = replaceTraceHeaders(opts.headers as Parameters<typeof replaceTraceHeaders>[0], span, ex ? b3EncodingOf(ex.req.headers) : B3Encoding.None);
        let wrapped: Dispatcher.DispatchHandler = handler;
        if (sampled) {
          address ??= addressOf(String(opts.origin));
          wrapped = new ClientSpanHandler(handler, tracing, span, upstream, address, opts);
        }
        try {
          return dispatch({ ...opts, headers } as ProxyDispatchOptions, wrapped);
        } catch (err) {
          if (wrapped instanceof ClientSpanHandler) wrapped.endTry(err as Error);
          throw err;
        }
      };
  };
}

/** Writes the try's span record once, when the try ends either way. */
class ClientSpanHandler extends TryOutcomeHandler {
  constructor(
    handler: Dispatcher.DispatchHandler,
    private readonly tracing: Tracing,
    private readonly span: TrySpan,
    private readonly upstream: string,
    private readonly address: UpstreamAddress,
    private readonly opts: ProxyDispatchOptions,
  ) {
    super(handler);
  }

  protected tryEnded(err: Error | undefined): void {
    const { span, opts } = this;
    const method = spanMethod(opts.method);
    const path = opts.path;
    const q = path.indexOf('?');
    const attrs: Array<AttributeKey | AttributeValue> = [ATTR.method, method ?? '_OTHER'];
    if (method === undefined) attrs.push(ATTR.methodOriginal, opts.method);
    attrs.push(
      ATTR.serverAddress,
      this.address.address,
      ATTR.serverPort,
      this.address.port,
      ATTR.urlFull,
      this.address.origin + (q === -1 ? path : path.slice(0, q)),
      ATTR.upstream,
      this.upstream,
    );
    if (opts.attempt) attrs.push(ATTR.resendCount, opts.attempt);
    const requestId = opts.exchange?.requestId;
    if (requestId) attrs.push(ATTR.requestId, requestId);
    const status = this.status;
    if (status > 0) attrs.push(ATTR.status, status);
    // Client spans: 4xx and 5xx are errors, and so is no answer.
    const errorType = err ? classify(err).errorType : status >= 400 ? String(status) : undefined;
    if (errorType !== undefined) attrs.push(ATTR.errorType, errorType);
    this.tracing.record(
      new SpanRecord(
        span.traceId,
        span.spanId,
        span.parentSpanId,
        span.traceState,
        span.traceFlags,
        span.parentRemote,
        SpanKind.Client,
        method ?? 'HTTP',
        epochMs(span.startedAt),
        epochMs(performance.now()),
        errorType !== undefined,
        attrs,
      ),
    );
  }
}
