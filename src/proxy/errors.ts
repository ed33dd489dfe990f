// Upstream failures mapped to what the client sees (status + error code) and to a
// low-cardinality error type for metrics and spans.
import type { Rejection } from './layer.js';

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

export interface Failure {
  status: number;
  code: string;
  errorType: string;
  message: string;
  /** extra response headers, flat [name, value, …] (e.g. Retry-After) */
  headers?: string[];
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

const TLS_CODES = /^(CERT_|ERR_TLS_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|ERR_SSL|HOSTNAME_MISMATCH)/;

/** Maps an undici / socket error to the failure the client sees. */
export function classify(err: unknown): Failure {
  if (err instanceof LocalFailure) return err.failure;
  const e = err as { code?: string; message?: string; cause?: { code?: string } } | undefined;
  const code = e?.code ?? '';
  const cause = e?.cause?.code ?? '';
  const any = (c: string) => code === c || cause === c;
  if (code === 'SIDELIGHT_TIMEOUT' || code === 'SIDELIGHT_TRY_TIMEOUT' || any('UND_ERR_HEADERS_TIMEOUT') || any('UND_ERR_BODY_TIMEOUT') || any('UND_ERR_CONNECT_TIMEOUT') || any('ETIMEDOUT')) {
    return { status: 504, code: 'upstream_timeout', errorType: 'timeout', message: 'upstream did not answer in time' };
  }
  if (any('UND_ERR_HEADERS_OVERFLOW')) {
    return { status: 502, code: 'upstream_headers_too_large', errorType: 'headers_too_large', message: 'upstream response headers are larger than limits.maxHeaderBytes' };
  }
  if (TLS_CODES.test(code) || TLS_CODES.test(cause)) {
    return { status: 502, code: 'upstream_tls_error', errorType: 'tls', message: `TLS handshake with upstream failed (${code || cause})` };
  }
  if (any('ECONNREFUSED')) {
    return { status: 502, code: 'upstream_unreachable', errorType: 'connection_refused', message: 'upstream refused the connection' };
  }
  if (any('ENOTFOUND') || any('EAI_AGAIN')) {
    return { status: 502, code: 'upstream_unreachable', errorType: 'dns', message: 'upstream host name did not resolve' };
  }
  if (any('ECONNRESET') || any('EPIPE') || any('UND_ERR_SOCKET') || any('UND_ERR_CLOSED')) {
    return { status: 502, code: 'upstream_unreachable', errorType: 'connection_reset', message: 'upstream closed the connection' };
  }
  return { status: 502, code: 'upstream_unreachable', errorType: 'connection_error', message: 'upstream request failed' };
}

/** The JSON body of every answer sidelight makes itself. */
export function errorBody(r: Rejection, requestId: string, upstream: string): string {
  return JSON.stringify({ error: r.code, message: r.message, requestId, upstream: upstream || undefined, ...r.details });
}
