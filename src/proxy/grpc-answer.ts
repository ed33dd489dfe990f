// sidelight's own answers to a gRPC call: trailers-only responses (one HEADERS frame that ends the
// stream, gRPC over HTTP/2 §Responses) with the catalogue's gRPC status and a grpc-message saying
// what happened, so a gRPC client reports "UNAVAILABLE: the upstream's circuit breaker is open"
// rather than "Received http2 header with status: 503".
import type { OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { ERRORS, type Rejection } from '../errors.js';
import type { Exchange } from './exchange.js';
import type { ResponseHeaders } from './layer.js';

export function grpcAnswerHeaders(r: Rejection): ResponseHeaders {
  return {
    'content-type': 'application/grpc',
    'grpc-status': String(ERRORS[r.code].grpcStatus),
    'grpc-message': encodeGrpcMessage(r.message),
  };
}

/** Ends a gRPC call whose answer has started: trailers with the failure's gRPC status and message. */
export function endGrpcCall(ex: Exchange, r: Rejection): void {
  const trailers = grpcAnswerHeaders(r);
  delete trailers['content-type'];
  ex.grpcStatus = ERRORS[r.code].grpcStatus;
  ex.res.addTrailers(trailers as Record<string, string>);
  ex.res.end();
}

/** Writes a head that ends the stream: a trailers-only answer. */
export function writeTrailersOnly(stream: ServerHttp2Stream, status: number, headers: ResponseHeaders): void {
  stream.respond({ ...(headers as OutgoingHttpHeaders), ':status': status }, { endStream: true });
}

/** grpc-message is percent-encoded UTF-8: everything outside printable ASCII, and '%' itself */
export function encodeGrpcMessage(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
