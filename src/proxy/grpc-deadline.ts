// A gRPC call's deadline (the grpc-timeout header, gRPC over HTTP/2 §Requests) is the exchange's
// cap when it is sooner than the configured one; the app gets it too, less the time already spent
// here, so every hop gives up at the same moment.
import type { Exchange, TimeoutLimits } from './exchange.js';

/** ms for each grpc-timeout unit: Hours, Minutes, Seconds, milliseconds, microseconds, nanoseconds */
const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 1e-3, n: 1e-6 };

/** grpc-timeout in ms; undefined when absent or malformed (at most 8 digits and a unit) */
function parseGrpcTimeout(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string' || !/^\d{1,8}[HMSmun]$/.test(value)) return undefined;
  return Number(value.slice(0, -1)) * UNIT_MS[value[value.length - 1]];
}

/** The limits of a gRPC call that carries a deadline: its `max` is the sooner of the two. */
export function withGrpcDeadline(ex: Exchange, limits: TimeoutLimits): TimeoutLimits {
  const ms = parseGrpcTimeout(ex.req.headers['grpc-timeout']);
  if (ms === undefined || ms >= limits.max) return limits;
  ex.grpcDeadline = ex.startedAt + ms;
  return { head: limits.head, idle: limits.idle, max: ms };
}

/** The grpc-timeout to send on: what is left of the deadline, in whole ms (at least 1). */
function remainingGrpcTimeout(ex: Exchange): string {
  return `${Math.max(1, Math.floor(ex.grpcDeadline - performance.now()))}m`;
}

/** `headers` (flat [name, value, …]) with the client's grpc-timeout replaced by what is left */
export function passGrpcDeadline(ex: Exchange, headers: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (headers[i] !== 'grpc-timeout') out.push(headers[i], headers[i + 1]);
  out.push('grpc-timeout', remainingGrpcTimeout(ex));
  return out;
}
