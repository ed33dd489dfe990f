// An HTTP/2 client for an h2c:// app or upstream on node:http2: one connection carries every call
// at once, each on its own stream with its own flow control. undici's h2 client holds a POST (every
// gRPC call) until its connection has nothing else running, so a long stream would hold up the
// calls behind it, or each call would need a connection of its own. This one is an undici
// Dispatcher, so the same interceptors compose onto it as onto a Pool.
import { connect as h2connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import type { Dispatcher as DispatcherType } from 'undici';
import { unbracket, urlPort } from '../net/address.js';
import { headerPairsWithin } from './headers.js';
import type { ResponseHeaders } from './layer.js';
import { Dispatcher, WrapHandler } from './undici.js';

type Controller = DispatcherType.DispatchController;

export interface H2cClientOptions {
  /** the longest a connection may take to open */
  readonly connectTimeout: number;
  /** a connection with no stream open for this long is closed */
  readonly idleTimeout: number;
  /** the largest response head accepted (limits.maxHeaderBytes), advertised to the peer */
  readonly maxHeaderBytes: number;
}

/** What the pool gauges read (sidelight_pool_connections): the shape of undici's Pool stats. */
export interface H2cStats {
  connected: number;
  free: number;
  pending: number;
  queued: number;
  running: number;
  size: number;
}

/**
 * The stream ended or closed with no answer (the connection broke, or the peer reset it): a reset
 * before any response byte, which the retry policy may resend.
 */
class NoAnswerError extends Error {
  readonly code = 'ECONNRESET';
  constructor(rstCode: number | undefined) {
    super(`the HTTP/2 stream ended before its answer (code ${rstCode ?? 'none'})`);
  }
}

/** undici's code for a connection that did not open in time, which the error catalogue knows */
class ConnectTimeoutError extends Error {
  readonly code = 'UND_ERR_CONNECT_TIMEOUT';
  constructor() {
    super('connect timeout');
  }
}

export class H2cClient extends Dispatcher {
  private session: ClientHttp2Session | undefined = undefined;
  private running = 0;
  private closed = false;
  private readonly host: string;
  private readonly port: number;

  constructor(
    private readonly origin: URL,
    private readonly options: H2cClientOptions,
  ) {
    super();
    this.host = unbracket(origin.hostname);
    this.port = urlPort(origin);
  }

  get stats(): H2cStats {
    const connected = this.session !== undefined ? 1 : 0;
    return { connected, free: connected && this.running === 0 ? 1 : 0, pending: 0, queued: 0, running: this.running, size: this.running };
  }

  override dispatch(opts: DispatcherType.DispatchOptions, handler: DispatcherType.DispatchHandler): boolean {
    // undici's own callers (dispatcher.request) still speak its older handler API
    const call = new H2Call(opts, WrapHandler.wrap(handler), () => this.running--);
    if (this.closed) {
      call.fail(new Error('the client is closed'));
      return true;
    }
    this.running++;
    call.start(this.sessionFor(), this.origin.host);
    return true;
  }

  override close(): Promise<void> {
    this.closed = true;
    const session = this.session;
    if (!session) return Promise.resolve();
    return new Promise((resolve) => session.close(() => resolve()));
  }

  override destroy(): Promise<void> {
    this.closed = true;
    this.session?.destroy();
    return Promise.resolve();
  }

  /** the open connection, or a new one when there is none (or it was told to go away) */
  private sessionFor(): ClientHttp2Session {
    if (this.session !== undefined) return this.session;
    const { connectTimeout, idleTimeout, maxHeaderBytes } = this.options;
    const session = h2connect(this.origin, {
      settings: { enablePush: false, maxHeaderListSize: maxHeaderBytes },
      maxHeaderListPairs: headerPairsWithin(maxHeaderBytes),
      createConnection: () => {
        const socket: Socket = netConnect({ host: this.host, port: this.port, noDelay: true });
        socket.setTimeout(connectTimeout, () => socket.destroy(new ConnectTimeoutError()));
        socket.once('connect', () => socket.setTimeout(0));
        return socket;
      },
    });
    this.session = session;
    const forget = (): void => {
      if (this.session === session) this.session = undefined;
    };
    // A connection's failure reaches its calls through their streams.
    session.on('error', forget);
    session.once('goaway', forget);
    session.once('close', forget);
    session.setTimeout(idleTimeout, () => {
      if (this.session !== session || this.running === 0) session.close();
    });
    return session;
  }
}

/** One request on its own stream: the undici handler API driven by node:http2's events. */
class H2Call implements Controller {
  aborted = false;
  paused = false;
  reason: Error | null = null;
  private stream: ClientHttp2Stream | undefined = undefined;
  private trailers: ResponseHeaders = {};
  private responded = false;
  private done = false;

  constructor(
    private readonly opts: DispatcherType.DispatchOptions,
    private readonly handler: DispatcherType.DispatchHandler,
    private readonly ended: () => void,
  ) {}

  start(session: ClientHttp2Session, authority: string): void {
    this.handler.onRequestStart?.(this, {});
    if (this.aborted) return;
    const opts = this.opts;
    const body = opts.body as unknown;
    const headers = requestHeaders(opts, authority);
    let stream: ClientHttp2Stream;
    try {
      stream = session.request(headers, { endStream: body === null || body === undefined });
    } catch (err) {
      // a header node:http2 refuses, or a connection that is already closing
      return this.fail(err as Error);
    }
    this.stream = stream;
    stream.on('response', (h) => this.onResponse(h));
    stream.on('data', (chunk: Buffer) => {
      if (!this.done) this.handler.onResponseData?.(this, chunk);
    });
    stream.on('trailers', (h) => (this.trailers = responseHeaders(h)));
    stream.once('end', () => this.finish());
    stream.once('error', (err: Error) => this.fail(unwrap(err)));
    // Every stream closes; only one still waiting for its answer failed (no error built otherwise).
    stream.once('close', () => {
      if (!this.done) this.fail(new NoAnswerError(stream.rstCode));
    });
    if (Buffer.isBuffer(body) || typeof body === 'string') stream.end(body);
    else if (body !== null && body !== undefined) void this.pump(stream, body as AsyncIterable<Buffer>);
  }

  abort(reason: Error): void {
    if (this.done) return;
    this.aborted = true;
    this.reason = reason;
    this.stream?.close(constants.NGHTTP2_CANCEL);
    this.fail(reason);
  }

  pause(): void {
    this.paused = true;
    this.stream?.pause();
  }

  resume(): void {
    this.paused = false;
    this.stream?.resume();
  }

  /** the request body, written as it comes, as fast as the stream's window allows */
  private async pump(stream: ClientHttp2Stream, body: AsyncIterable<Buffer>): Promise<void> {
    try {
      for await (const chunk of body) {
        if (stream.destroyed) return;
        if (!stream.write(chunk)) await new Promise((resolve) => (stream.once('drain', resolve), stream.once('close', resolve)));
      }
      if (!stream.destroyed) stream.end();
    } catch (err) {
      this.abort(err as Error);
    }
  }

  private onResponse(h: IncomingHttpHeaders): void {
    if (this.done) return;
    this.responded = true;
    const status = Number(h[':status']);
    this.handler.onResponseStart?.(this, status, responseHeaders(h), '');
  }

  private finish(): void {
    if (!this.responded) return this.fail(new NoAnswerError(this.stream?.rstCode));
    if (this.done) return;
    this.done = true;
    this.ended();
    this.handler.onResponseEnd?.(this, this.trailers);
  }

  fail(err: Error): void {
    if (this.done) return;
    this.done = true;
    this.ended();
    this.handler.onResponseError?.(this, err);
  }
}

/**
 * The request's headers as an HTTP/2 header block: the pipeline's flat [name, value, …] list
 * (lower-case, hop-by-hop already gone), or an object from dispatcher.request's callers.
 */
function requestHeaders(opts: DispatcherType.DispatchOptions, authority: string): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ':method': opts.method, ':path': opts.path, ':scheme': 'http', ':authority': authority };
  const given = opts.headers;
  if (given === null || given === undefined) return out;
  const flat = Array.isArray(given) ? (given as string[]) : Object.entries(given).flatMap(([k, v]) => (v === undefined ? [] : [k.toLowerCase(), String(v)]));
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i];
    const value = flat[i + 1];
    if (name === 'host') out[':authority'] = value;
    else {
      const seen = out[name];
      out[name] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [String(seen), value];
    }
  }
  return out;
}

/** a head or trailers without the pseudo-headers, values as strings */
function responseHeaders(h: IncomingHttpHeaders): ResponseHeaders {
  const out: ResponseHeaders = {};
  for (const name of Object.keys(h)) {
    if (name.charCodeAt(0) === 58 /* : */) continue;
    const value = h[name];
    out[name] = Array.isArray(value) ? value : String(value);
  }
  return out;
}

/** node:http2 cancels a connection's streams with the connection's own error as the cause */
function unwrap(err: Error): Error {
  const cause = (err as { cause?: unknown }).cause;
  return (err as { code?: string }).code === 'ERR_HTTP2_STREAM_CANCEL' && cause instanceof Error ? cause : err;
}
