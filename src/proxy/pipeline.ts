// One listener's request path, in one visible place: layers' request hooks, target
// resolution, the forward, layers' response hooks, and completion.
import { ServerResponse, type IncomingMessage } from 'node:http';
import { constants as h2constants, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { beforeEarlyHead, bodyUnfinished } from './early-answer.js';
import { Exchange } from './exchange.js';
import { ClientAbortedError, ERRORS, classify, errorBody, rejection, type Rejection } from '../errors.js';
import { grpcAnswerHeaders, writeTrailersOnly } from './grpc-answer.js';
import { passGrpcDeadline, withGrpcDeadline } from './grpc-deadline.js';
import { ForwardHandler, type ForwardOwner } from './forward.js';
import { forwardRequestHeaders } from './headers.js';
import type { Inflight } from './inflight.js';
import { ForwardedRequest, TryContext, type ConnectHandler, type Layer, type ProxyDispatchOptions, type ResponseHeaders, type Target, type TryListener, type TryReport, type TunnelOwner } from './layer.js';
import { RequestBodySource } from './request-body.js';
import { timeoutsOf } from './target-timeouts.js';
import { join, writeSwitchingProtocols } from './upgrade.js';

export interface PipelineOptions {
  /** name used in logs and metrics: "ingress", "egress", "egress:stripe" */
  listener: string;
  layers: readonly Layer[];
  /** where this request goes, or why it is answered locally */
  resolve(ex: Exchange): Target | Rejection;
  /** what a CONNECT request gets once the layers let it through: a tunnel, or a local answer */
  connect: ConnectHandler;
  inflight: Inflight;
  /** `Expect: 100-continue` goes on to the upstream, which decides (ingress to an HTTP/1.1 app); otherwise 100 at once */
  upstreamDecidesContinue: boolean;
}

const CONNECTION_ESTABLISHED = 'HTTP/1.1 200 Connection Established\r\n\r\n';

export class Pipeline implements ForwardOwner, TunnelOwner, TryListener {
  readonly listener: string;
  readonly inflight: Inflight;
  private readonly requestHooks: Layer[];
  private readonly responseHooks: Layer[];
  private readonly doneHooks: Layer[];
  private readonly tryHooks: Layer[];
  private readonly owned: ReadonlySet<string>;
  private readonly resolve: PipelineOptions['resolve'];
  private readonly connect: ConnectHandler;
  private readonly upstreamDecidesContinue: boolean;
  /** open tunnels, closed when the process stops */
  readonly tunnels = new Set<Duplex>();
  /** bytes the client sent after its Upgrade request, replayed once the tunnel is up */
  private readonly pendingHeads = new WeakMap<Exchange, Buffer>();

  constructor(options: PipelineOptions) {
    this.listener = options.listener;
    this.inflight = options.inflight;
    this.resolve = options.resolve;
    this.connect = options.connect;
    this.upstreamDecidesContinue = options.upstreamDecidesContinue;
    this.requestHooks = options.layers.filter((l) => l.onRequest);
    this.responseHooks = options.layers.filter((l) => l.onResponse);
    this.doneHooks = options.layers.filter((l) => l.onDone);
    this.tryHooks = options.layers.filter((l) => l.onTry);
    this.owned = new Set(options.layers.flatMap((l) => l.ownsRequestHeaders ?? []));
  }

  /** node:http's and node:http2's 'request' event: the compatibility objects offer what the core uses */
  readonly handleRequest = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void => {
    this.accept(req as IncomingMessage, res as ServerResponse, false);
  };

  /**
   * Node's 'checkContinue' event, `Expect: 100-continue`: an HTTP/1.1 app decides, so the
   * expectation goes to it and its 100 (or its refusal) comes back. Elsewhere Node's answer is
   * kept: 100 at once, as undici cannot send the expectation on to an API or over HTTP/2.
   */
  readonly handleCheckContinue = (req: IncomingMessage, res: ServerResponse): void => {
    const appDecides = this.upstreamDecidesContinue;
    if (!appDecides) res.writeContinue();
    this.accept(req, res, appDecides);
  };

  private accept(req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void {
    const ex = this.exchange(req, res);
    if (expectContinue) {
      ex.expectContinue = true;
      ex.forwardHeaders.push('expect', '100-continue');
    }
    this.start(ex, undefined);
  }

  /** An exchange for a request with its own response object, completed when that response closes. */
  private exchange(req: IncomingMessage, res: ServerResponse): Exchange {
    const ex = new Exchange(req, res, this.listener);
    // 'close' fires once per response; `on` spares the wrapper `once` allocates per request.
    res.on('close', () => this.complete(ex));
    return ex;
  }

  readonly handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const ex = this.onSocket(req, socket);
    // `Upgrade: h2c` (curl --http2 on http://) is declined, as RFC 9113 lets a server: the request
    // is answered over HTTP/1.1 and the app never sees the offer. Its connection closes after the
    // answer, which Node has already handed over. A body would be in `head`: that one is forwarded.
    if (isH2cOffer(req)) return this.start(ex, undefined);
    this.start(ex, head);
  };

  /** Node's 'connect' event: without a listener Node would drop the connection unanswered. */
  readonly handleConnect = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const ex = this.onSocket(req, socket);
    if (!this.admit(ex)) return;
    // A tunnel has no deadline (its idle timeout is its own) but holds up the drain like any request.
    this.inflight.add(ex, undefined);
    const refused = this.connect(ex, socket, head, this);
    if (refused) this.reply(ex, refused);
  };

  /**
   * A request Node's parser refused (src/proxy/refused-request.ts): the layers see it as any
   * other exchange (request id, route, metrics, log, span) and it gets the parser's answer,
   * whatever a layer would have said. It forwards nothing.
   */
  readonly handleRefused = (req: IncomingMessage, socket: Duplex, answer: Rejection): void => {
    this.refuse(this.onSocket(req, socket), answer);
  };

  /** An HTTP/2 request refused on its own stream (a header block past the limit): as handleRefused. */
  readonly handleRefusedStream = (req: Http2ServerRequest, res: Http2ServerResponse, answer: Rejection): void => {
    this.refuse(this.exchange(req as unknown as IncomingMessage, res as unknown as ServerResponse), answer);
  };

  private refuse(ex: Exchange, answer: Rejection): void {
    const hooks = this.requestHooks;
    for (let i = 0; i < hooks.length; i++) hooks[i].onRequest!(ex);
    this.reply(ex, answer);
  }

  /**
   * Node hands upgrades and CONNECT over without a response object; one bound to the socket
   * lets local answers (and non-101 upstream answers) use the ordinary path.
   */
  private onSocket(req: IncomingMessage, socket: Duplex): Exchange {
    // Node took its own 'error' listener off the socket when it handed it over; without one, a
    // client resetting the connection would crash the process. The socket closes after the error.
    socket.on('error', ignoreSocketError);
    const res = new ServerResponse(req);
    res.assignSocket(socket as never);
    res.once('finish', () => socket.end());
    const ex = new Exchange(req, res, this.listener);
    res.once('close', () => this.complete(ex));
    return ex;
  }

  /** Runs the layers' request hooks; false when one of them answered. */
  private admit(ex: Exchange): boolean {
    const hooks = this.requestHooks;
    for (let i = 0; i < hooks.length; i++) {
      const rejected = hooks[i].onRequest!(ex);
      if (rejected) {
        this.reply(ex, rejected);
        return false;
      }
    }
    return true;
  }

  private start(ex: Exchange, upgradeHead: Buffer | undefined): void {
    if (!this.admit(ex)) return;
    const target = this.resolve(ex);
    if ('code' in target) return this.reply(ex, target);
    ex.upstream = target.name;
    if (target.routes !== undefined) ex.route = target.routes.match(pathOf(ex.upstreamPath));
    if (ex.grpc && !target.http2) return this.reply(ex, needsHttp2(target.name));
    const req = ex.req;
    if (!upgradeHead && hasBody(ex)) ex.requestBody = new RequestBodySource(ex, this.inflight);
    const limits = timeoutsOf(target, ex);
    this.inflight.add(ex, ex.grpc ? withGrpcDeadline(ex, limits) : limits);
    const handler = new ForwardHandler(ex, this);
    ex.upstreamCall = handler;
    if (upgradeHead) this.pendingHeads.set(ex, upgradeHead);
    const opts: ProxyDispatchOptions = {
      origin: target.origin,
      path: ex.upstreamPath,
      method: ex.method as Dispatcher.HttpMethod,
      headers: this.requestHeaders(ex, target),
      // undici accepts async iterables as bodies; its types only list streams.
      body: (ex.requestBody ?? null) as Dispatcher.DispatchOptions['body'],
      upgrade: upgradeHead ? (req.headers.upgrade ?? null) : null,
      context: new TryContext(new ForwardedRequest(ex.requestId, ex.parent, ex.b3Encoding, ex.expectContinue, ex.route, ex, this), 0, undefined),
    };
    try {
      target.dispatcher.dispatch(opts, handler);
    } catch (err) {
      handler.onResponseError(undefined, err as Error);
    }
  }

  private requestHeaders(ex: Exchange, target: Target): string[] {
    const headers = forwardRequestHeaders(ex.req, this.owned, target, ex.forwardHeaders, ex.upstreamHost);
    return ex.grpcDeadline === 0 ? headers : passGrpcDeadline(ex, headers);
  }

  beforeResponse(ex: Exchange, headers: ResponseHeaders): void {
    const hooks = this.responseHooks;
    for (let i = 0; i < hooks.length; i++) hooks[i].onResponse!(ex, headers);
  }

  tried(ex: Exchange, report: TryReport): void {
    ex.retries = report.attempt;
    const hooks = this.tryHooks;
    for (let i = 0; i < hooks.length; i++) hooks[i].onTry!(ex, report);
  }

  failed(ex: Exchange, err: Error): void {
    const failure = classify(err);
    ex.errorType = failure.errorType;
    this.reply(ex, failure);
  }

  upgraded(ex: Exchange, upstream: Duplex, headers: ResponseHeaders, protocol: string): void {
    // A tunnel lives as long as its sockets; it has no deadline and does not hold up the drain.
    this.inflight.remove(ex);
    const client = ex.res.socket as Duplex;
    ex.res.detachSocket(client as never);
    writeSwitchingProtocols(client, headers, protocol);
    this.tunnels.add(client);
    client.once('close', () => {
      this.tunnels.delete(client);
      this.complete(ex);
    });
    join(client, upstream, this.pendingHeads.get(ex) ?? Buffer.alloc(0));
  }

  tunneled(ex: Exchange): Duplex {
    const client = ex.res.socket as Duplex;
    ex.res.detachSocket(client as never);
    ex.status = 200;
    client.write(CONNECTION_ESTABLISHED);
    return client;
  }

  tunnelClosed(ex: Exchange): void {
    this.complete(ex);
  }

  /** Answers with sidelight's JSON error body; a gRPC call gets a gRPC error instead. */
  reply(ex: Exchange, r: Rejection): void {
    const res = ex.res;
    ex.status = r.status;
    ex.errorCode = r.code;
    ex.errorType ??= r.code;
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    if (ex.h2) {
      // A new stream refused while draining is reset with REFUSED_STREAM: nothing of it was
      // processed, so any client retries it on another connection (RFC 9113 §8.7).
      if (r.code === 'draining') return void ex.stream.close(h2constants.NGHTTP2_REFUSED_STREAM);
      if (ex.grpc) return this.replyGrpc(ex, r);
    }
    const body = errorBody(r, ex.requestId, ex.upstream);
    const headers: ResponseHeaders = { 'content-type': 'application/json', 'cache-control': 'no-store' };
    if (r.headers) for (let i = 0; i < r.headers.length; i += 2) headers[r.headers[i]] = r.headers[i + 1];
    if (r.close && !ex.h2) headers.connection = 'close';
    this.beforeResponse(ex, headers);
    if (bodyUnfinished(ex)) beforeEarlyHead(ex, headers, true);
    ex.bytesOut = Buffer.byteLength(body);
    headers['content-length'] = String(ex.bytesOut);
    res.writeHead(r.status, headers as Record<string, string>);
    res.end(body);
  }

  /** A gRPC call gets a trailers-only gRPC error: HTTP 200, the catalogue's gRPC status and the message. */
  private replyGrpc(ex: Exchange, r: Rejection): void {
    const headers = grpcAnswerHeaders(r);
    ex.status = 200;
    ex.grpcStatus = ERRORS[r.code].grpcStatus;
    this.beforeResponse(ex, headers);
    if (bodyUnfinished(ex)) beforeEarlyHead(ex, headers, true);
    writeTrailersOnly(ex.stream, 200, headers);
  }

  private complete(ex: Exchange): void {
    if (ex.durationMs !== 0) return;
    ex.durationMs = performance.now() - ex.startedAt || Number.MIN_VALUE;
    this.inflight.remove(ex);
    if (!ex.answered && !handedOver(ex)) {
      // The client left before the whole answer was sent: stop the upstream work too.
      ex.upstreamCall?.abort(new ClientAbortedError());
      if (!ex.res.headersSent) ex.status = 499;
      ex.errorCode ??= 'client_aborted';
      ex.errorType ??= 'client_aborted';
    }
    const hooks = this.doneHooks;
    for (let i = 0; i < hooks.length; i++) hooks[i].onDone!(ex);
  }
}

function ignoreSocketError(): void {}

/** A 101 to an Upgrade or a 2xx to a CONNECT: the connection became a tunnel, not an unfinished answer. */
function handedOver(ex: Exchange): boolean {
  return ex.status === 101 || (ex.status === 200 && ex.method === 'CONNECT');
}

function isH2cOffer(req: IncomingMessage): boolean {
  return req.headers.upgrade?.toLowerCase() === 'h2c' && req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined;
}

function needsHttp2(upstream: string): Rejection {
  const where =
    upstream === 'app'
      ? 'ingress.app is http:// or https:// (HTTP/1.1); write h2c://HOST:PORT for a gRPC app'
      : `upstream ${upstream} speaks HTTP/1.1 (write h2c://HOST:PORT, or set egress.upstreams.${upstream}.http2: true for https://)`;
  return rejection('grpc_needs_http2', `gRPC needs HTTP/2 end to end: ${where}`);
}

/** The request has a body to forward: a non-zero Content-Length, or chunked; on HTTP/2, a stream not ended with its headers. */
function hasBody(ex: Exchange): boolean {
  if (ex.h2) return !ex.stream.endAfterHeaders;
  const req = ex.req;
  const length = req.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return req.headers['transfer-encoding'] !== undefined;
}

/** a request-target's path, without its query */
function pathOf(target: string): string {
  const q = target.indexOf('?');
  return q === -1 ? target : target.slice(0, q);
}
