// `OPTIONS * HTTP/1.1` (RFC 9112 §3.2.4) asks the server itself what it supports; it is valid
// HTTP/1.1 and belongs to the app. undici writes only origin-form and absolute-form request
// lines (core/request.js refuses any other path), so this interceptor on the app's pool sends
// that one request with node:http on a connection of its own and speaks undici's handler API
// back up. The pipeline, layers and deadline see an ordinary try. It is rare traffic: no pool.
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pipeline } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { ProxyDispatchOptions, ResponseHeaders } from '../proxy/layer.js';

type Handler = Dispatcher.DispatchHandler;

export function asteriskFormInterceptor(origin: URL): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) => (opts.path === '*' ? sendAsteriskForm(origin, opts, handler) : dispatch(opts, handler));
}

/** The controller undici would hand the layer above, over a node:http request. */
class AsteriskExchange implements Dispatcher.DispatchController {
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

function sendAsteriskForm(origin: URL, opts: ProxyDispatchOptions, handler: Handler): boolean {
  const request = origin.protocol === 'https:' ? httpsRequest : httpRequest;
  const req = request({
    host: origin.hostname.replace(/^\[|\]$/g, ''),
    port: origin.port || (origin.protocol === 'https:' ? 443 : 80),
    method: opts.method,
    path: '*',
    // The pipeline's flat [name, value, …] list, Host included, written as it is.
    headers: opts.headers as string[],
    agent: false,
  });
  const exchange = new AsteriskExchange(req, handler);
  req.on('response', (res) => exchange.respond(res));
  req.on('error', (err) => exchange.fail(err));
  handler.onRequestStart?.(exchange, {});
  const body = opts.body;
  if (body === null || body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) req.end(body ?? undefined);
  else pipeline(body as NodeJS.ReadableStream, req, (err) => err && exchange.fail(err));
  return true;
}
