// What the tap publishes: one summary per finished exchange, and one per egress CONNECT tunnel. Every kind shares the base fields the filters read; headers are never part of it, so
// Authorization, cookies and API keys cannot leak through the tap.
import type { GrpcFaults } from '../net/grpc-faults.js';
import type { Exchange, TunnelFacts } from '../proxy/exchange.js';
import { rpcStatusLabel } from '../telemetry/rpc-metrics.js';

export interface TapRecordBase {
  /** which kind of record: "exchange", or "tunnel" (an egress CONNECT to a configured upstream) */
  kind: string;
  /** ISO-8601 time the record was published (the exchange finished) */
  time: string;
  listener: string;
  requestId: string;
  traceId: string;
  /** where it went: "app" on ingress, the upstream's name on egress, "" when refused before */
  upstream: string;
  durationMs: number;
  bytesIn: number;
  bytesOut: number;
  /** sidelight's error code ("upstream_timeout", "circuit_open", …), "" when none */
  error: string;
}

export interface ExchangeRecord extends TapRecordBase {
  kind: 'exchange';
  method: string;
  /** without the query string unless logging.logQuery */
  path: string;
  route: string;
  status: number;
  retries: number;
  /** gRPC calls only: the status name ("OK", "UNAVAILABLE", …), "" when the call ended without one */
  grpcStatus?: string;
  /** gRPC calls only, and only when true: the status is one of grpc.errorCodes */
  grpcFault?: true;
}

/** bytesIn went from the app to the upstream, bytesOut came back; the TLS inside is not seen. */
export interface TunnelRecord extends TapRecordBase {
  kind: 'tunnel';
  method: 'CONNECT';
  /** the host:port the app asked for */
  target: string;
  /** 200 once connected, else sidelight's answer (502, 503, 504, or 499 when the app left first) */
  status: number;
  /** "established", or why not: "connection_refused", "timeout", "circuit_open", … */
  outcome: string;
  /** "client", "upstream", "idle_timeout", "shutdown"; "" when it was never established */
  closedBy: string;
  connectMs: number;
}

export type TapRecord = ExchangeRecord | TunnelRecord | (TapRecordBase & Record<string, unknown>);

/** The fields every record of a finished exchange starts with, in the order they are printed. */
function common<K extends 'exchange' | 'tunnel'>(kind: K, ex: Exchange) {
  return { kind, time: new Date().toISOString(), listener: ex.listener, requestId: ex.requestId, traceId: ex.traceId };
}

export function exchangeRecord(ex: Exchange, logQuery: boolean, faults: GrpcFaults): ExchangeRecord {
  const record: ExchangeRecord = {
    ...common('exchange', ex),
    method: ex.method,
    path: logQuery ? ex.path + ex.query : ex.path,
    route: ex.route,
    status: ex.status,
    durationMs: Math.round(ex.durationMs * 1000) / 1000,
    upstream: ex.upstream,
    error: ex.errorCode ?? '',
    bytesIn: ex.bytesIn,
    bytesOut: ex.bytesOut,
    retries: ex.retries,
  };
  if (ex.grpc) {
    record.grpcStatus = rpcStatusLabel(ex.grpcStatus);
    if (faults.isFault(ex.grpcStatus)) record.grpcFault = true;
  }
  return record;
}

export function tunnelRecord(ex: Exchange, t: TunnelFacts): TunnelRecord {
  return {
    ...common('tunnel', ex),
    method: 'CONNECT',
    target: t.target,
    status: ex.status,
    outcome: t.outcome,
    closedBy: t.closedBy,
    connectMs: Math.round(t.connectMs * 1000) / 1000,
    durationMs: Math.round(ex.durationMs * 1000) / 1000,
    upstream: ex.upstream,
    error: ex.errorCode ?? '',
    bytesIn: ex.bytesIn,
    bytesOut: ex.bytesOut,
  };
}

/** An exchange failed when sidelight or the upstream says so: an error code, a 5xx answer, or a gRPC status in grpc.errorCodes. */
export function isFailure(record: TapRecord): boolean {
  if (record.error || (record as { grpcFault?: unknown }).grpcFault === true) return true;
  const status = (record as { status?: unknown }).status;
  return typeof status === 'number' && status >= 500;
}
