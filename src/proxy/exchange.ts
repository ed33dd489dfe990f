// One request through a listener: the record every layer reads and writes.
// A class with every field declared up front keeps one hidden class on the hot path.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, ServerHttp2Stream } from 'node:http2';
import { isGrpcContentType } from '../net/grpc-status.js';
import { parseAbsoluteForm } from '../net/request-target.js';

/** What the core can cancel: set once undici has started the upstream request. */
export interface Abortable {
  abort(reason: Error): void;
}

/** Limits in ms; Infinity for none. */
export interface TimeoutLimits {
  /** from the request body fully received until the response head */
  readonly head: number;
  /** the longest silence while a body is moving, either way */
  readonly idle: number;
  /** the whole exchange */
  readonly max: number;
}

/** The client's request body as undici reads it (src/proxy/request-body.ts). */
export interface RequestBody extends AsyncIterator<Buffer> {
  /** the client has sent it all */
  readonly ended: boolean;
  /** undici is done with it (an early answer): stop handing chunks over */
  stop(): void;
  /** reads and drops the rest, calling `onChunk` with each chunk's size and `done` at its end */
  discard(onChunk: (n: number) => void, done: () => void): void;
}

/** The span a request's span continues: the caller's (from its headers) or one in this process. */
export interface TraceParent {
  readonly traceId: string;
  readonly spanId: string;
  /** W3C trace-flags: 0x01 sampled, 0x02 random trace id (Level 2); other bits are not kept */
  readonly flags: number;
  /** undefined when the caller left the sampling decision to us (B3 without a sampled flag) */
  readonly sampled: boolean | undefined;
  /** the validated tracestate to pass on, "" when none */
  readonly traceState: string;
  /** the parent came in a header, from another process */
  readonly remote: boolean;
}

/** A CONNECT tunnel's own facts, for the layers that report on the exchange (access log, tap). */
export interface TunnelFacts {
  /** the host:port the client asked for */
  readonly target: string;
  /** "established", or why not: "connection_refused", "timeout", "circuit_open", … */
  readonly outcome: string;
  /** who ended an established tunnel: "client", "upstream", "idle_timeout", "shutdown"; "" otherwise */
  readonly closedBy: string;
  /** time to connect to the upstream, ms; 0 when no connection was attempted */
  readonly connectMs: number;
}

export class Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** which listener took the request: "ingress", "egress" or an upstream's dedicated listener */
  readonly listener: string;
  readonly startedAt: number;
  readonly method: string;
  /** the path without the query string; for an absolute-form target, the path part of the URL */
  readonly path: string;
  readonly query: string;
  /** captured at arrival: the socket is detached from the request once the response is done */
  readonly remoteAddress: string;
  /** the client speaks HTTP/2: req and res are node:http2's compatibility objects */
  readonly h2: boolean;
  /** a gRPC call (content-type application/grpc*, over HTTP/2) */
  readonly grpc: boolean;

  requestId = '';
  /** the matched route template ("/api/items/:id"), "" when none matched */
  route = '';
  /** name of the upstream the request went to: "app" on ingress */
  upstream = '';
  /** request-target sent upstream: the client's as it came, until a layer or router rewrites it */
  upstreamPath: string;
  /** the Host to send instead of the client's (the authority of an absolute-form target) */
  upstreamHost: string | undefined = undefined;
  /** extra request headers for the upstream, flat [name, value, …]; layers push here */
  readonly forwardHeaders: string[] = [];

  status = 0;
  /** sidelight's error code when it answered itself or the exchange failed ("upstream_timeout", …) */
  errorCode: string | undefined = undefined;
  /** low-cardinality failure class for metrics and spans ("timeout", "connection_refused", "500", …) */
  errorType: string | undefined = undefined;
  bytesIn = 0;
  bytesOut = 0;
  durationMs = 0;
  /** retries sent for this exchange (egress: the latest try's number, as its tries report it) */
  retries = 0;
  /** performance.now() of the gRPC call's own deadline (grpc-timeout), 0 when it has none or the config's is sooner */
  grpcDeadline = 0;
  /** the gRPC status the call ended with (trailers, a trailers-only answer, or sidelight's own); -1 none */
  grpcStatus = -1;
  /** a CONNECT to a configured upstream: set by the egress tunnel handler */
  tunnel: TunnelFacts | undefined = undefined;

  // Trace context, kept by the tracing layers; the access log, the tap and the metrics' exemplars read it.
  /** the span this exchange's span (egress: its tries' spans) continues; undefined: a new trace */
  parent: TraceParent | undefined = undefined;
  /** how the caller encoded B3 (0 none, 1 single, 2 multi): the next hop gets the same */
  b3Encoding = 0;
  /** this exchange's span, or on egress its latest try's; "" when tracing is off */
  traceId = '';
  spanId = '';
  /** W3C trace-flags of that span */
  traceFlags = 0;
  traceSampled = false;
  /** ingress: what egress calls carrying this request id are parented on, while it is in flight */
  inflightTrace: TraceParent | undefined = undefined;

  // Owned by the in-flight registry.
  deadline = 0;
  prev: Exchange | undefined = undefined;
  next: Exchange | undefined = undefined;
  upstreamCall: Abortable | undefined = undefined;
  timedOut = false;

  // Timeout model (deadlines per phase).
  /** what the exchange waits for (inflight.ts: UPLOAD, HEAD, BODY; TUNNEL is untimed); NONE when not registered */
  phase = 0;
  /** the limits the exchange runs under: its listener's, or its route's */
  limits: TimeoutLimits | undefined = undefined;
  /** performance.now() of the last body chunk either way */
  lastActivity = 0;
  /** performance.now() when the request body had fully arrived; 0 until then */
  requestEndedAt = 0;
  /** the request body had not fully arrived when the exchange ended (answered early, or cut) */
  requestIncomplete = false;
  /** the client's request body as undici reads it; undefined for a request without one */
  requestBody: RequestBody | undefined = undefined;
  /** the client sent `Expect: 100-continue` and the app decides: its 100 (or its refusal) goes back */
  expectContinue = false;

  constructor(req: IncomingMessage, res: ServerResponse, listener: string) {
    this.req = req;
    this.res = res;
    this.listener = listener;
    this.startedAt = performance.now();
    this.method = req.method ?? 'GET';
    const url = req.url ?? '/';
    this.upstreamPath = url;
    // Logs, routes and spans see the path even when the client sent "http://host/path".
    const start = parseAbsoluteForm(url)?.pathStart ?? 0;
    const q = url.indexOf('?', start);
    this.path = q === -1 ? url.slice(start) : url.slice(start, q);
    this.query = q === -1 ? '' : url.slice(q);
    if (this.path === '' && start > 0) this.path = '/';
    this.remoteAddress = req.socket?.remoteAddress ?? '';
    this.h2 = req.httpVersionMajor === 2;
    this.grpc = this.h2 && isGrpcContentType(req.headers['content-type']);
  }

  /**
   * The whole answer was handed to the connection. node:http2 ends a stream's writable side when
   * the stream closes, however it closed, and marks it aborted when that was before its end.
   */
  get answered(): boolean {
    if (!this.h2) return this.res.writableFinished;
    const stream = this.stream;
    return stream.writableFinished && !stream.aborted;
  }

  /** the HTTP/2 stream of an `h2` exchange (for what the compatibility objects do not offer: resets, trailers-only answers) */
  get stream(): ServerHttp2Stream {
    return (this.req as unknown as Http2ServerRequest).stream;
  }
}
