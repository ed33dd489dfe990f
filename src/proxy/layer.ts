// The contract between the proxy core and the cross-cutting concerns composed onto it.
// A layer is a set of hooks, like a filter in Envoy's chain; the core calls them in order
// and knows nothing about what they do.
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { rejection, type Rejection } from '../errors.js';
import type { Exchange, TraceParent } from './exchange.js';
import type { RouteMatcher } from './route-matcher.js';

export type ResponseHeaders = Record<string, string | string[] | undefined>;

export interface Layer {
  readonly name: string;
  /** request headers the layer writes itself: the core never copies them from the client */
  readonly ownsRequestHeaders?: readonly string[];
  /** a request arrived; return a Rejection to answer it locally */
  onRequest?(ex: Exchange): Rejection | undefined;
  /** the response head is about to be written (from upstream, or a local answer) */
  onResponse?(ex: Exchange, headers: ResponseHeaders): void;
  /** a try of the exchange's upstream request started (egress: retries and their spans) */
  onTry?(ex: Exchange, report: TryReport): void;
  /** the exchange is over: answered, failed or abandoned by the client */
  onDone?(ex: Exchange): void;
}

/**
 * A CONNECT request (authority-form) that the layers let through: take the socket and open a
 * tunnel (then return undefined: the exchange is in flight until `owner` hears it is over), or
 * return the answer to give instead.
 */
export type ConnectHandler = (ex: Exchange, socket: Duplex, head: Buffer, owner: TunnelOwner) => Rejection | undefined;

/** What a ConnectHandler that took the socket tells the pipeline that owns the CONNECT. */
export interface TunnelOwner {
  /** answer the CONNECT after all (the upstream could not be reached) */
  reply(ex: Exchange, r: Rejection): void;
  /** the upstream is connected: the client gets `200 Connection Established`, and its socket is the handler's */
  tunneled(ex: Exchange): Duplex;
  /** the tunnel is over: the exchange completes */
  tunnelClosed(ex: Exchange): void;
}

/** A span's own ids, as a try reports them and a tunnel or exchange keeps them. */
export interface SpanIds {
  readonly traceId: string;
  readonly spanId: string;
  /** W3C trace-flags: 0x01 sampled */
  readonly traceFlags: number;
}

/** What a try tells the exchange that sent it. */
export interface TryReport {
  /** 0 for the first try, then 1, 2, … */
  readonly attempt: number;
  /** the try's span, when the tracing interceptor made one */
  readonly span: SpanIds | undefined;
}

/** What the pipeline hears from the tries of one request: one callback, the only way up. */
export interface TryListener {
  tried(ex: Exchange, report: TryReport): void;
}

/**
 * What every try of one forwarded request shares, fixed before the first dispatch, and the two
 * facts about the client's upload that move while the tries run, read-only. Interceptors read
 * it and report through it; none of them sees the Exchange.
 */
export class ForwardedRequest {
  constructor(
    readonly requestId: string,
    /** the parent of the tries' spans, worked out once by the egress tracing layer */
    readonly parent: TraceParent | undefined,
    /** how the caller encoded B3 (0 none, 1 single, 2 multi) */
    readonly b3Encoding: number,
    /** the client sent `Expect: 100-continue` and the upstream decides */
    readonly expectContinue: boolean,
    /** the route template the request matched (egress: the upstream's routes), "" when none */
    readonly route: string,
    private readonly ex: Exchange,
    private readonly listener: TryListener,
  ) {}

  report(report: TryReport): void {
    this.listener.tried(this.ex, report);
  }

  /** performance.now() ms by which the final try's response head is due (Infinity: no limit, or the body is still arriving) */
  headDeadline(): number {
    const ex = this.ex;
    return ex.requestEndedAt > 0 && ex.limits !== undefined ? ex.requestEndedAt + ex.limits.head : Infinity;
  }

  /** where a try's wait for its head starts counting: the end of the request body, or while it still arrives, its last chunk */
  headWaitFrom(): number {
    const ex = this.ex;
    return ex.requestEndedAt > 0 ? ex.requestEndedAt : ex.lastActivity;
  }
}

/** One try's context: immutable; each try, and each try's span, gets a new one. */
export class TryContext implements TryReport {
  constructor(
    readonly request: ForwardedRequest,
    readonly attempt: number,
    readonly span: SpanIds | undefined,
  ) {}
}

/** Dispatch options as they travel down an upstream's interceptor chain. */
export type ProxyDispatchOptions = Dispatcher.DispatchOptions & {
  /** the try this dispatch is */
  context?: TryContext;
};

/**
 * A per-try concern composed onto an upstream's undici dispatcher (metrics, client span, …).
 * Built once per upstream; undici's compose puts the last interceptor outermost.
 */
export type TryInterceptorFactory = (upstream: string) => Dispatcher.DispatcherComposeInterceptor;

/** Where a request goes: chosen per request on egress, fixed on ingress. */
export interface Target {
  readonly name: string;
  /** undici dispatcher with the upstream's interceptors composed onto it */
  readonly dispatcher: Dispatcher;
  /** scheme://host[:port] */
  readonly origin: string;
  /** the Host header to send; undefined keeps the client's */
  readonly host: string | undefined;
  /** add X-Forwarded-For/-Proto/-Host: ingress does, egress leaves the app's request as it is */
  readonly setForwarded: boolean;
  /** the upstream speaks HTTP/2 (h2c://, or https:// with h2 offered): gRPC may go there */
  readonly http2: boolean;
  /** whole-request budget in ms */
  readonly timeout: number;
  /** the upstream's route templates (egress.upstreams.NAME.routes): they set the exchange's route */
  readonly routes?: RouteMatcher;
}

const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS';

/** A listener that offers no tunnels: CONNECT gets 405 and a message saying what to do instead. */
export function refuseConnect(message: string): ConnectHandler {
  const refusal = rejection('method_not_allowed', message, { headers: ['allow', ALLOWED_METHODS], close: true });
  return () => refusal;
}
