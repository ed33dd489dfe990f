// HTTP/2 connections sidelight closed because the client abused the protocol (a rapid-reset
// loop): counted, and logged as at most one warning per listener and reason every 10 s.
import type { Logger } from './logger.js';
import type { MetricRegistry } from './metric-registry.js';
import { ThrottledLog } from './throttled-log.js';

export function protocolAbuseReporter(logger: Logger, metrics: MetricRegistry | undefined): (listener: string, reason: string) => void {
  const closed = metrics?.counter('sidelight_http2_connections_closed_total', 'HTTP/2 connections closed for abusing the protocol, by reason (premature_resets)', ['listener', 'reason']);
  const log = new ThrottledLog(logger, 'HTTP/2 connection closed: the client abused the protocol');
  return (listener, reason) => {
    if (closed) closed.child([listener, reason]).value++;
    const kind = `${listener}:${reason}`;
    if (log.due(kind)) log.warn(kind, { listener, reason });
  };
}
