// One flat JSON line per request. Headers are never logged, so Authorization, cookies and
// API keys cannot leak; the query string (tokens, personal data) only when asked for.
import type { Layer } from '../proxy/layer.js';
import type { Logger } from '../telemetry/logger.js';

export function accessLogLayer(logger: Logger, options: { logQuery: boolean }): Layer {
  return {
    name: 'access-log',
    onDone(ex) {
      logger.info({
        msg: 'request',
        listener: ex.listener,
        requestId: ex.requestId,
        method: ex.method,
        path: options.logQuery ? ex.path + ex.query : ex.path,
        route: ex.route || undefined,
        status: ex.status,
        durationMs: Math.round(ex.durationMs * 1000) / 1000,
        bytesIn: ex.bytesIn,
        bytesOut: ex.bytesOut,
        upstream: ex.upstream || undefined,
        remoteAddress: ex.remoteAddress,
        userAgent: ex.req.headers['user-agent'],
        error: ex.errorCode,
        traceId: ex.traceId || undefined,
        spanId: ex.spanId || undefined,
      });
    },
  };
}
