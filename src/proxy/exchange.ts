// One request through a listener: the record every layer reads and writes.
// A class with every field declared up front keeps one hidden class on the hot path.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TimeoutLimits } from './inflight.js';
import type { RequestBodySource } from './request-body.js';

/** What the core can cancel: set once undici has started the upstream request. */
export interface Abortable {
  abort(reason: Error): void;
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
  /** retries sent for this exchange (egress; set by the retry interceptor) */
  retries = 0;
  /** a CONNECT to a configured upstream: set by the egress tunnel handler */
  tunnel: TunnelFacts | undefined = undefined;

  /** set by the tracing layers; the access log prints them, metrics use sampled ones as exemplars */
  traceId = '';
  spanId = '';
  traceSampled = false;
  /** W3C trace-flags of sidelight's span (sampled, random) */
  traceFlags = 0;
  /** the caller's tracestate, carried on; "" when none */
  traceState = '';
  /** the caller's span, "" when sidelight's span is a root */
  parentSpanId = '';
  /** the parent came in a header (another process), not from this sidecar */
  parentRemote = false;
  /** the parent's sampling decision; undefined for a root or a deferred decision */
  parentSampled: boolean | undefined = undefined;
  /** egress: the parent of the tries has been worked out (it is the same for every try) */
  parentResolved = false;
  /** ingress: what egress calls carrying this request id are parented on, while it is in flight */
  inflightTrace: { readonly traceId: string; readonly spanId: string; readonly traceFlags: number; readonly traceState: string } | undefined = undefined;

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
  requestBody: RequestBodySource | undefined = undefined;
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
    const start = url.charCodeAt(0) === 47 /* / */ ? 0 : absolutePathStart(url);
    const q = url.indexOf('?', start);
    this.path = q === -1 ? url.slice(start) : url.slice(start, q);
    this.query = q === -1 ? '' : url.slice(q);
    if (this.path === '' && start > 0) this.path = '/';
    this.remoteAddress = req.socket?.remoteAddress ?? '';
  }
}

const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i;

/** where the path begins in an absolute-form target ("http://host:80/p?q" → 18); 0 for any other form */
export function absolutePathStart(target: string): number {
  const authority = ABSOLUTE_FORM.exec(target);
  return authority ? authority[0].length : 0;
}
