// gRPC status codes (grpc/doc/statuscodes.md) and the few facts about gRPC requests the proxy
// needs: which requests are gRPC, and which statuses are the server's fault.

export const GRPC_STATUS_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;

export type GrpcStatusName = (typeof GRPC_STATUS_NAMES)[number];

/**
 * The statuses counted as errors of the server by default: OpenTelemetry's RPC conventions mark
 * a gRPC server span as an error for exactly these; the others (NOT_FOUND, INVALID_ARGUMENT,
 * PERMISSION_DENIED, …) are answers about the caller's request, like an HTTP 4xx.
 */
export const DEFAULT_GRPC_ERROR_CODES: readonly GrpcStatusName[] = ['UNKNOWN', 'DEADLINE_EXCEEDED', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS'];

/** "UNAVAILABLE" for 14; codes past the table (a buggy peer) keep their number */
export function grpcStatusName(code: number): string {
  return GRPC_STATUS_NAMES[code] ?? String(code);
}

/** `grpc-status` as sent (a header value), or -1 when absent or not a number */
export function parseGrpcStatus(value: string | string[] | undefined): number {
  if (typeof value !== 'string' || value.length === 0 || value.length > 3) return -1;
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 ? n : -1;
}

/** application/grpc, application/grpc+proto, application/grpc+json; not gRPC-Web, which is HTTP/1.1-friendly */
export function isGrpcContentType(value: string | string[] | undefined): boolean {
  if (typeof value !== 'string' || !value.startsWith('application/grpc')) return false;
  const next = value.charCodeAt(16);
  return Number.isNaN(next) || next === 43 /* + */ || next === 59 /* ; */;
}
