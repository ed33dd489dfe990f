// The keep-alive race: the app (or an API) closes an idle pooled connection just as sidelight
// writes the next request on it, without ever saying Connection: close. undici checks idle
// sockets before reuse, but a FIN or RST that arrives after the write fails the request before
// any response byte. Like nginx (an extra try for a cached connection) and Envoy, such a
// request is sent once more, on a new connection of its own (another pooled one may be just as
// stale), when that is safe: an idempotent method (or an Idempotency-Key) and a body still
// whole in memory (none, or buffered). The happy path costs one small object per request.
//
// It is a property of the connection, not of the upstream's health: on egress it sits below
// the breaker and the per-try timeout, so the pair is one try for metrics, spans, the breaker
// and the retry budget; it is counted in sidelight_upstream_stale_connection_retries_total.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { buildConnector, type Connector, type ConnectorOptions } from './undici.js';
import type { ProxyDispatchOptions, ResponseHeaders } from './layer.js';
import { RESET_CODES } from '../net/socket-errors.js';
import { retryableMethod } from './idempotency.js';

type Controller = Dispatcher.DispatchController;
type Handler = Dispatcher.DispatchHandler;

export interface ConnectionObserver {
  /** a request that failed on a reused connection was sent again on another one */
  staleConnectionRetried(upstream: string): void;
}

/** undici's error for a socket it lost: what it read and wrote on that connection so far */
type SocketFailure = Error & { code?: string; socket?: { bytesRead?: number } };

/** The connection broke, and it had carried an earlier answer: a stale keep-alive connection. */
function onReusedConnection(err: SocketFailure): boolean {
  return err.code !== undefined && RESET_CODES.has(err.code) && (err.socket?.bytesRead ?? 0) > 0;
}

/**
 * undici attaches what the socket read to "other side closed", not to a raw ECONNRESET or EPIPE;
 * this connector adds it to those too (one listener per connection, nothing per request).
 */
export function reuseAwareConnector(options: ConnectorOptions): Connector {
  const connect = buildConnector(options);
  return (opts, callback) =>
    connect(opts, (err, socket) => {
      if (socket) socket.prependListener('error', noteBytesRead);
      // undici's callback type is a union of (err, null) and (null, socket)
      (callback as (e: Error | null, s: Socket | null) => void)(err, socket);
    });
}

function noteBytesRead(this: Socket, err: SocketFailure): void {
  err.socket ??= { bytesRead: this.bytesRead };
}

function replayable(body: ProxyDispatchOptions['body']): boolean {
  return body === null || body === undefined || typeof body === 'string' || body instanceof Uint8Array;
}

/** One request and, at most, its second sending. The controller the handler above sees. */
class StaleConnectionRetry implements Handler, Controller {
  aborted = false;
  paused = false;
  reason: Error | null = null;
  private controller: Controller | undefined = undefined;
  private started = false;
  private responded = false;
  private resent = false;
  private over = false;

  constructor(
    private readonly openConnection: () => Dispatcher,
    private readonly opts: ProxyDispatchOptions,
    private readonly handler: Handler,
    private readonly upstream: string,
    private readonly observers: readonly ConnectionObserver[],
  ) {}

  // Controller
  abort(reason: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    if (this.controller) return this.controller.abort(reason);
    // Between the two sendings: nothing undici would report back.
    this.onResponseError(undefined, reason);
  }

  pause(): void {
    this.paused = true;
    this.controller?.pause();
  }

  resume(): void {
    this.paused = false;
    this.controller?.resume();
  }

  // Handler
  onRequestStart(controller: Controller, context: unknown): void {
    this.controller = controller;
    if (this.over) return controller.abort(this.reason as Error);
    if (this.paused) controller.pause();
    if (this.started) return;
    this.started = true;
    this.handler.onRequestStart?.(this, context);
  }

  onRequestUpgrade(_controller: Controller, statusCode: number, headers: ResponseHeaders, socket: Duplex): void {
    this.over = true;
    this.handler.onRequestUpgrade?.(this, statusCode, headers as never, socket);
  }

  onResponseStart(_controller: Controller, statusCode: number, headers: ResponseHeaders, statusMessage?: string): void {
    this.responded = true;
    this.handler.onResponseStart?.(this, statusCode, headers as never, statusMessage);
  }

  onResponseData(_controller: Controller, chunk: Buffer): void {
    this.handler.onResponseData?.(this, chunk);
  }

  onResponseEnd(_controller: Controller, trailers: ResponseHeaders): void {
    this.over = true;
    this.handler.onResponseEnd?.(this, trailers as never);
  }

  onResponseError(_controller: Controller | undefined, err: Error): void {
    if (this.over) return;
    if (!this.responded && !this.resent && !this.aborted && onReusedConnection(err)) {
      this.resent = true;
      this.controller = undefined;
      for (const o of this.observers) o.staleConnectionRetried(this.upstream);
      try {
        const connection = this.openConnection();
        connection.dispatch({ ...this.opts, reset: true }, this);
        // closes once this request is done
        void connection.close();
        return;
      } catch (thrown) {
        err = thrown as Error;
      }
    }
    this.over = true;
    this.handler.onResponseError?.(this, err);
  }
}

/** `openConnection`: a client with the pool's own connection options, for the one resend */
export function staleConnectionRetryInterceptor(
  upstream: string,
  openConnection: () => Dispatcher,
  observers: readonly ConnectionObserver[],
): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts: ProxyDispatchOptions, handler) => {
    if (opts.upgrade || !replayable(opts.body) || !retryableMethod(opts.method, opts.headers)) return dispatch(opts, handler);
    return dispatch(opts, new StaleConnectionRetry(openConnection, opts, handler, upstream, observers));
  };
}
