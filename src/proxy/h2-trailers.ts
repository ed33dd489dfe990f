// undici 7.30's HTTP/2 client ends a request with node:http2's trailers object
// (client-h2.js: `request.onComplete(trailers)`), where its handlers read a raw [name, value, …]
// list: parsed as one, the trailers come out empty, and with them a gRPC answer's grpc-status.
// undici keeps what it was given on the controller it hands new-API handlers (`rawTrailers`);
// this interceptor, composed directly onto a pool that may speak h2, passes that object up as
// the trailers. HTTP/1.1 answers (a raw list there) pass untouched.
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { ResponseHeaders } from './layer.js';

type Controller = Dispatcher.DispatchController;
type Handler = Dispatcher.DispatchHandler;

class H2TrailersHandler implements Handler {
  constructor(private readonly handler: Handler) {}

  onRequestStart(controller: Controller, context: unknown): void {
    this.handler.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(controller: Controller, statusCode: number, headers: ResponseHeaders, socket: Duplex): void {
    this.handler.onRequestUpgrade?.(controller, statusCode, headers as never, socket);
  }

  onResponseStart(controller: Controller, statusCode: number, headers: ResponseHeaders, statusMessage?: string): void {
    this.handler.onResponseStart?.(controller, statusCode, headers as never, statusMessage);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    this.handler.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Controller, trailers: ResponseHeaders): void {
    const sent = (controller as { rawTrailers?: unknown }).rawTrailers;
    this.handler.onResponseEnd?.(controller, (sent !== null && typeof sent === 'object' && !Array.isArray(sent) ? Object.fromEntries(Object.entries(sent)) : trailers) as never);
  }

  onResponseError(controller: Controller, err: Error): void {
    this.handler.onResponseError?.(controller, err);
  }
}

export const h2TrailersInterceptor: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (opts, handler) => dispatch(opts, new H2TrailersHandler(handler));
