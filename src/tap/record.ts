// What the tap publishes: one summary per finished exchange (and, once egress tunnels exist, per
// tunnel). Every kind shares the base fields the filters read; headers are never part of it, so
// Authorization, cookies and API keys cannot leak through the tap.
import type { Exchange } from '../proxy/exchange.js';

export interface TapRecordBase {
  /** which kind of record: "exchange"; later kinds (a CONNECT tunnel) add their own */
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
}

export type TapRecord = ExchangeRecord | (TapRecordBase & Record<string, unknown>);

export function exchangeRecord(ex: Exchange, logQuery: boolean): ExchangeRecord {
  return {
    kind: 'exchange',
    time: new Date().toISOString(),
    listener: ex.listener,
    requestId: ex.requestId,
    traceId: ex.traceId,
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
}

/** An exchange failed when sidelight or the upstream says so: an error code, or a 5xx answer. */
export function isFailure(record: TapRecord): boolean {
  if (record.error) return true;
  const status = (record as { status?: unknown }).status;
  return typeof status === 'number' && status >= 500;
}
