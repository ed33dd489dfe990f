// Two requests that are valid HTTP/1.1 and belong to the app but that undici cannot send:
// - `OPTIONS * HTTP/1.1` (RFC 9112 §3.2.4): undici writes only origin-form and absolute-form
//   request lines (core/request.js refuses any other path);
// - `Expect: 100-continue`: undici refuses the header and takes a 100 answer for a broken
//   response (client-h1.js), so the app could never refuse an upload before its body is sent.
// This interceptor on the app's pool sends them with node:http on a connection of their own and
// speaks undici's handler API back up; a body waits for the app's 100, and every 1xx goes up as
// undici reports 102 and 103 (onResponseStart before the final one). The pipeline, layers and
// deadlines see an ordinary try. It is rare traffic: no pool.
import { request as httpRequest, type ClientRequest, type IncomingMessage, type InformationEvent } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pipeline } from 'node:stream';
import type { Dispatcher } from 'undici';
import { unbracket, urlPort } from '../net/address.js';
import type { ProxyDispatchOptions, ResponseHeaders } from '../proxy/layer.js';

type Handler = Dispatcher.DispatchHandler;

export function nodeHttpInterceptor(origin: URL): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts: ProxyDispatchOptions, handler) =>
    opts.path === '*' || opts.context?.request.expectContinue ? sendWithNodeHttp(origin, opts, handler) : dispatch(opts, handler);
}

/** The controller undici would hand the layer above, over a node:http request. */
class NodeHttpExchange implements Dispatcher.DispatchController {
  aborted = false;
  paused = false;
  reason: Error | null = null;
  response: IncomingMessage | undefined = undefined;
  private ended = false;

  constructor(
    readonly req: ClientRequest,
    private readonly handler: Handler,
  ) {}

  abort(reason: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.fail(reason);
    this.req.destroy(reason);
  }

  pause(): void {
    this.paused = true;
    this.response?.pause();
  }

  resume(): void {
    this.paused = false;
    this.response?.resume();
  }

  inform(info: InformationEvent): void {
    if (!this.ended) this.handler.onResponseStart?.(this, info.statusCode, info.headers as ResponseHeaders as never, info.statusMessage);
  }

  respond(res: IncomingMessage): void {
    if (this.ended) {
      res.resume();
      return;
    }
    this.response = res;
    this.handler.onResponseStart?.(this, res.statusCode ?? 502, res.headers as ResponseHeaders as never, res.statusMessage);
    res.on('data', (chunk: Buffer) => {
      if (!this.ended) this.handler.onResponseData?.(this, chunk);
    });
    res.on('end', () => {
      if (this.ended) return;
      this.ended = true;
      this.handler.onResponseEnd?.(this, res.trailers as never);
    });
    res.on('error', (err) => this.fail(err));
  }

  fail(err: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.handler.onResponseError?.(this, err);
  }
}

function sendWithNodeHttp(origin: URL, opts: ProxyDispatchOptions, handler: Handler): boolean {
  const request = origin.protocol === 'https:' ? httpsRequest : httpRequest;
  const req = request({
    host: unbracket(origin.hostname),
    port: urlPort(origin),
    method: opts.method,
    path: opts.path,
    // The pipeline's flat [name, value, …] list, Host included, written as it is.
    headers: opts.headers as string[],
    agent: false,
  });
  const exchange = new NodeHttpExchange(req, handler);
  req.on('information', (info: InformationEvent) => exchange.inform(info));
  req.on('response', (res) => exchange.respond(res));
  req.on('error', (err) => exchange.fail(err));
  handler.onRequestStart?.(exchange, {});
  const body = opts.body;
  if (body === null || body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) req.end(body ?? undefined);
  else {
    const send = () => pipeline(body as NodeJS.ReadableStream, req, (err) => err && exchange.fail(err));
    if (!opts.context?.request.expectContinue) send();
    else {
      // The head goes now; the body only once the app has said 100 Continue.
      req.flushHeaders();
      req.once('continue', send);
    }
  }
  return true;
}
