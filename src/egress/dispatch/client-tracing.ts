// The egress CLIENT span: one per try (retries are separate spans with http.request.resend_count),
// composed onto each upstream's dispatcher as an undici interceptor. Its parent is the request's,
// worked out once by the egress tracing layer (src/layers/egress-tracing.ts); without one the try
// starts a new trace. Each try sends its own context upstream and reports its span through the
// request's callback. No headers and no query string become attributes. A gRPC try's span is
// named and attributed per the RPC conventions too, and is an error for any status but OK.
import type { Dispatcher } from 'undici';
import { classify } from '../../errors.js';
import type { TraceParent } from '../../proxy/exchange.js';
import { TryContext, type ProxyDispatchOptions, type SpanIds, type TryInterceptorFactory } from '../../proxy/layer.js';
import { newSpanId, newTraceId } from '../../telemetry/spans/ids.js';
import { unbracket, urlPort } from '../../net/address.js';
import { grpcStatusName } from '../../net/grpc-status.js';
import type { GrpcMethods, UpstreamGrpcMethods } from '../../telemetry/grpc-methods.js';
import { ATTR, pushRpcAttributes, spanMethod } from '../../telemetry/spans/semconv.js';
import { epochMs, SpanKind, SpanRecord, type AttributeKey, type AttributeValue } from '../../telemetry/spans/span-record.js';
import { B3Encoding, pushTraceHeaders, spanFlags } from '../../telemetry/trace-context.js';
import type { Tracing } from '../../telemetry/tracing.js';
import { isGrpcRequest, TryOutcomeHandler } from './try-outcome.js';

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

/** One try's span: its ids, and when it started. */
class TrySpan implements SpanIds {
  readonly startedAt = performance.now();
  constructor(
    readonly traceId: string,
    readonly spanId: string,
    readonly traceFlags: number,
  ) {}
}

/** Per-try CLIENT spans for one upstream; compose it with the upstream's other per-try interceptors. */
export function clientTracingInterceptor(tracing: Tracing, grpcMethods: UpstreamGrpcMethods): TryInterceptorFactory {
  return (upstream) => {
    let address: UpstreamAddress | undefined;
    const methods = grpcMethods.of(upstream);
    return (dispatch) =>
      function tracedDispatch(opts: ProxyDispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
        const context = opts.context;
        const parent = context?.request.parent;
        // A try with no parent starts its own trace; tries under a parent share the parent's.
        const traceId = parent ? parent.traceId : newTraceId();
        const sampled = tracing.sample(traceId, parent?.sampled);
        const span = new TrySpan(traceId, newSpanId(), spanFlags(sampled, parent));
        // The app's trace headers were left out (the egress tracing layer owns them): this try's go on the end.
        const headers = Array.isArray(opts.headers) ? (opts.headers as string[]).slice() : [];
        pushTraceHeaders(headers, span, parent ? parent.traceState : '', context ? context.request.b3Encoding : B3Encoding.None);
        let tryContext = context;
        if (context !== undefined) {
          tryContext = new TryContext(context.request, context.attempt, span);
          context.request.report(tryContext);
        }
        let wrapped: Dispatcher.DispatchHandler = handler;
        if (sampled) {
          address ??= addressOf(String(opts.origin));
          wrapped = new ClientSpanHandler(handler, tracing, span, parent, upstream, address, opts, tryContext, methods);
        }
        const traced: ProxyDispatchOptions = { ...opts, headers, context: tryContext };
        try {
          return dispatch(traced, wrapped);
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
    private readonly parent: TraceParent | undefined,
    private readonly upstream: string,
    private readonly address: UpstreamAddress,
    private readonly opts: ProxyDispatchOptions,
    private readonly context: TryContext | undefined,
    private readonly methods: GrpcMethods,
  ) {
    super(handler);
  }

  protected tryEnded(err: Error | undefined): void {
    const opts = this.opts;
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
    const context = this.context;
    if (context?.attempt) attrs.push(ATTR.resendCount, context.attempt);
    const requestId = context?.request.requestId;
    if (requestId) attrs.push(ATTR.requestId, requestId);
    const status = this.status;
    if (status > 0) attrs.push(ATTR.status, status);
    const route = context ? context.request.route : '';
    if (route !== '') attrs.push(ATTR.urlTemplate, route);
    // A try that failed before any answer is a gRPC call when its request said so.
    if (this.grpc || (err !== undefined && status === 0 && isGrpcRequest(opts.headers))) return this.recordCall(err, attrs, q === -1 ? path : path.slice(0, q));
    // Client spans: 4xx and 5xx are errors, and so is no answer.
    const errorType = err ? classify(err).errorType : status >= 400 ? String(status) : undefined;
    if (errorType !== undefined) attrs.push(ATTR.errorType, errorType);
    // OTel's client span name: "{method} {url.template}" when the request matched one of the upstream's routes
    const name = route === '' ? (method ?? 'HTTP') : `${method ?? 'HTTP'} ${route}`;
    this.record(name, errorType !== undefined, attrs);
  }

  /** gRPC client spans: every status but OK is an error (the RPC conventions), typed by its name */
  private recordCall(err: Error | undefined, attrs: Array<AttributeKey | AttributeValue>, path: string): void {
    const status = this.grpcStatus;
    const errorType = err ? classify(err).errorType : status > 0 ? grpcStatusName(status) : status < 0 && this.status >= 400 ? String(this.status) : undefined;
    if (errorType !== undefined) attrs.push(ATTR.errorType, errorType);
    this.record(pushRpcAttributes(attrs, this.methods.route(path), path, status), errorType !== undefined, attrs);
  }

  private record(name: string, error: boolean, attrs: Array<AttributeKey | AttributeValue>): void {
    const span = this.span;
    this.tracing.record(new SpanRecord(span, this.parent, SpanKind.Client, name, epochMs(span.startedAt), epochMs(performance.now()), error, attrs));
  }
}
