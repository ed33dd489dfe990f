// undici's HTTP/2 client hands a response's trailers to the handler API as Node's header object,
// and the API's adapter parses them as the flat HTTP/1.1 list, so handlers receive none (undici
// 7.30.2). gRPC's status travels in the trailers; this interceptor, innermost on an h2 pool, gives
// every handler above it the trailers as an object of strings.
import type { Dispatcher } from 'undici';
import type { ResponseHeaders } from './layer.js';

type Controller = Dispatcher.DispatchController & { rawTrailers?: unknown };

export function h2TrailersInterceptor(): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) =>
    dispatch(opts, {
      onRequestStart: (c, ctx) => handler.onRequestStart?.(c, ctx),
      onRequestUpgrade: (c, status, headers, socket) => handler.onRequestUpgrade?.(c, status, headers, socket),
      onResponseStart: (c, status, headers, message) => handler.onResponseStart?.(c, status, headers, message),
      onResponseData: (c, chunk) => handler.onResponseData?.(c, chunk),
      onResponseEnd: (c: Controller, trailers) => handler.onResponseEnd?.(c, trailersOf(c, trailers)),
      onResponseError: (c, err) => handler.onResponseError?.(c, err),
    });
}

function trailersOf(controller: Controller, parsed: ResponseHeaders): ResponseHeaders {
  const raw = controller.rawTrailers;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return parsed;
  const out: ResponseHeaders = {};
  for (const name of Object.keys(raw)) {
    const value = (raw as Record<string, unknown>)[name];
    out[name] = Array.isArray(value) ? value.map(String) : String(value);
  }
  return out;
}
