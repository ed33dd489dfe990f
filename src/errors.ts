// The catalogue of every answer sidelight makes itself: code, status, what it means, the gRPC
// status a gRPC client gets instead, and whether it counts against the upstream (the app, on
// ingress). Errors from the network are mapped onto it here too. docs/errors.md, and every other
// error table in the docs, is checked against this catalogue (test/unit/error-catalogue.test.ts).
import { parserReason, socketFailureKind, type SocketFailureKind } from './net/socket-errors.js';

export interface ErrorSpec {
  readonly status: number;
  /** what happened, for the docs */
  readonly meaning: string;
  /** gRPC status code for the same situation (UNAVAILABLE 14, DEADLINE_EXCEEDED 4, …) */
  readonly grpcStatus: number;
  /** the upstream failed (the breaker and the error rate count it); false: the client's or sidelight's own decision */
  readonly upstreamFault: boolean;
}

export const ERRORS = {
  upstream_unreachable: { status: 502, meaning: 'the upstream refused or reset the connection, or its name did not resolve', grpcStatus: 14, upstreamFault: true },
  upstream_tls_error: { status: 502, meaning: 'the TLS handshake with the upstream failed', grpcStatus: 14, upstreamFault: true },
  upstream_headers_too_large: { status: 502, meaning: "the upstream's response head is larger than limits.maxHeaderBytes", grpcStatus: 13, upstreamFault: true },
  upstream_protocol_error: { status: 502, meaning: "the upstream's answer is not valid HTTP (the parser's reason is in the message and the log)", grpcStatus: 13, upstreamFault: true },
  upstream_timeout: { status: 504, meaning: 'the upstream did not answer in time', grpcStatus: 4, upstreamFault: true },
  circuit_open: { status: 503, meaning: "the upstream's circuit breaker is open: failed fast", grpcStatus: 14, upstreamFault: false },
  draining: { status: 503, meaning: 'sidelight is shutting down', grpcStatus: 14, upstreamFault: false },
  rate_limited: { status: 429, meaning: "over a configured rate limit (ingress.rateLimit, a route's, or an upstream's): retry after Retry-After", grpcStatus: 8, upstreamFault: false },
  overloaded: { status: 503, meaning: 'too many requests in flight', grpcStatus: 8, upstreamFault: false },
  unknown_upstream: { status: 404, meaning: 'no configured egress upstream matches the request', grpcStatus: 12, upstreamFault: false },
  upstream_not_allowed: { status: 403, meaning: 'CONNECT to a host or port no upstream allows', grpcStatus: 7, upstreamFault: false },
  method_not_allowed: { status: 405, meaning: 'CONNECT on a listener that offers no tunnels', grpcStatus: 12, upstreamFault: false },
  bad_request: { status: 400, meaning: 'a malformed request', grpcStatus: 13, upstreamFault: false },
  headers_too_large: { status: 431, meaning: 'request headers larger than limits.maxHeaderBytes', grpcStatus: 13, upstreamFault: false },
  stream_idle_timeout: { status: 408, meaning: 'nothing moved on the exchange for longer than idleTimeout (a stalled upload answered, or a stream cut)', grpcStatus: 4, upstreamFault: false },
  max_duration: { status: 504, meaning: 'the exchange took longer than maxDuration', grpcStatus: 4, upstreamFault: false },
  deadline_exceeded: { status: 504, meaning: "the gRPC call's own deadline (its grpc-timeout) passed", grpcStatus: 4, upstreamFault: false },
  grpc_needs_http2: { status: 502, meaning: 'a gRPC call for an app or upstream that speaks HTTP/1.1 (gRPC needs HTTP/2 end to end: h2c:// or https://)', grpcStatus: 12, upstreamFault: false },
  shutdown: { status: 503, meaning: 'the drain ran out (drain.timeout) with the exchange still open', grpcStatus: 14, upstreamFault: false },
  client_aborted: { status: 499, meaning: 'the client closed the connection before the answer was complete (logged, never sent)', grpcStatus: 1, upstreamFault: false },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** A local answer instead of forwarding: draining, overloaded, unknown upstream, circuit open, … */
export interface Rejection {
  readonly status: number;
  readonly code: ErrorCode;
  readonly message: string;
  /** extra response headers, flat [name, value, …] */
  readonly headers?: readonly string[];
  /** close the client connection after this answer */
  readonly close?: boolean;
  /** extra fields for the JSON body (e.g. the list of configured upstreams) */
  readonly details?: Record<string, unknown>;
}

/** A failed upstream call as the client sees it, with its low-cardinality class for metrics and spans. */
export interface Failure extends Rejection {
  /** "timeout", "connection_refused", "circuit_open", … */
  readonly errorType: string;
}

/** The catalogue's answer for `code`, with this occasion's message. */
export function rejection(code: ErrorCode, message: string, extra?: Omit<Rejection, 'status' | 'code' | 'message'>): Rejection {
  return { status: ERRORS[code].status, code, message, ...extra };
}

/** A failure decided by sidelight, typed `errorType` (the code itself unless said otherwise). */
export function failure(code: ErrorCode, message: string, extra?: Omit<Failure, 'status' | 'code' | 'message' | 'errorType'> & { errorType?: string }): Failure {
  return { status: ERRORS[code].status, code, message, errorType: code, ...extra };
}

export class UpstreamTimeoutError extends Error {
  readonly code = 'SIDELIGHT_TIMEOUT';
  constructor(message = 'upstream did not answer in time') {
    super(message);
    this.name = 'UpstreamTimeoutError';
  }
}

/**
 * One try to an upstream ran past its per-try limit. `connecting`: it had not started on a
 * connection yet, so not a byte of it was sent.
 */
export class TryTimeoutError extends Error {
  readonly code = 'SIDELIGHT_TRY_TIMEOUT';
  constructor(readonly connecting: boolean) {
    super(connecting ? 'no connection to the upstream in time' : 'upstream did not answer in time');
    this.name = 'TryTimeoutError';
  }
}

/** Client went away: not an upstream failure, nothing is answered. */
export class ClientAbortedError extends Error {
  readonly code = 'SIDELIGHT_CLIENT_ABORTED';
  constructor() {
    super('client closed the connection');
    this.name = 'ClientAbortedError';
  }
}

/**
 * A failure decided by sidelight itself inside a dispatcher (circuit open, bulkhead full, …):
 * an interceptor fails the try with it and the client gets exactly this answer.
 */
export class LocalFailure extends Error {
  readonly code = 'SIDELIGHT_LOCAL';
  constructor(readonly failure: Failure) {
    super(failure.message);
    this.name = 'LocalFailure';
  }
}

const TIMEOUT = failure('upstream_timeout', 'upstream did not answer in time', { errorType: 'timeout' });
const BY_KIND: Record<Exclude<SocketFailureKind, 'tls' | 'protocol_error'>, Failure> = {
  timeout: TIMEOUT,
  connect_timeout: TIMEOUT,
  headers_too_large: failure('upstream_headers_too_large', 'upstream response headers are larger than limits.maxHeaderBytes', { errorType: 'headers_too_large' }),
  connection_refused: failure('upstream_unreachable', 'upstream refused the connection', { errorType: 'connection_refused' }),
  dns: failure('upstream_unreachable', 'upstream host name did not resolve', { errorType: 'dns' }),
  connection_reset: failure('upstream_unreachable', 'upstream closed the connection', { errorType: 'connection_reset' }),
};
const UNKNOWN = failure('upstream_unreachable', 'upstream request failed', { errorType: 'connection_error' });

/** Maps an undici / socket error to the failure the client sees. */
export function classify(err: unknown): Failure {
  if (err instanceof LocalFailure) return err.failure;
  if (err instanceof UpstreamTimeoutError || err instanceof TryTimeoutError) return TIMEOUT;
  const kind = socketFailureKind(err);
  if (kind === undefined) return UNKNOWN;
  if (kind === 'tls') {
    const code = (err as { code?: string; cause?: { code?: string } }).code || (err as { cause?: { code?: string } }).cause?.code;
    return failure('upstream_tls_error', `TLS handshake with upstream failed (${code})`, { errorType: 'tls' });
  }
  if (kind === 'protocol_error') return failure('upstream_protocol_error', `the upstream's answer is not valid HTTP: ${parserReason(err)}`, { errorType: 'protocol_error' });
  return BY_KIND[kind];
}

/** The JSON body of every answer sidelight makes itself. */
export function errorBody(r: Rejection, requestId: string, upstream: string): string {
  return JSON.stringify({ error: r.code, message: r.message, requestId, upstream: upstream || undefined, ...r.details });
}
