// bench/least.ts's telemetry, loaded only by the rows that use it: sidelight's own span pipeline
// and histogram, fed inline.
import type { IncomingMessage } from 'node:http';
import { tracingSettings } from '../src/config/tracing-env.js';
import { createLogger } from '../src/telemetry/logger.js';
import { Metrics } from '../src/telemetry/metrics.js';
import { ATTR, pushServerAddress, spanMethod } from '../src/telemetry/spans/semconv.js';
import { epochMs, SpanKind, SpanRecord, type AttributeKey, type AttributeValue } from '../src/telemetry/spans/span-record.js';
import { startTracing } from '../src/telemetry/tracing.js';

export { newSpanId, newTraceId } from '../src/telemetry/spans/ids.js';

/** spans at 1.0 over OTLP to OTEL_EXPORTER_OTLP_ENDPOINT, as the default config does */
export function startSpans() {
  const settings = tracingSettings({ tracing: { exporter: 'otlp', sampleRatio: 1 }, service: 'app', version: 'least' });
  return startTracing(settings, 10_000, createLogger('warn', 'app', 2).logger)!;
}

/** the series every request of the bench lands in (GET, 200, no route, no error) */
export function serverSeries() {
  return new Metrics({ maxSeries: 100 }).serverDuration.child(['GET', '200', '', '']);
}

/** the server span sidelight writes for an answered GET, with the same attributes */
export function serverSpan(req: IncomingMessage, requestId: string, status: number, traceId: string, spanId: string, startedAt: number, durationMs: number): SpanRecord {
  const method = spanMethod(req.method as string) ?? 'HTTP';
  const attrs: Array<AttributeKey | AttributeValue> = [ATTR.method, method, ATTR.urlPath, req.url as string, ATTR.urlScheme, 'http'];
  if (req.headers.host) pushServerAddress(attrs, req.headers.host);
  attrs.push(ATTR.clientAddress, req.socket.remoteAddress as string);
  const ua = req.headers['user-agent'];
  if (ua) attrs.push(ATTR.userAgent, ua);
  attrs.push(ATTR.requestId, requestId, ATTR.status, status, ATTR.upstreamName, 'app');
  const start = epochMs(startedAt);
  return new SpanRecord(traceId, spanId, '', '', 1, false, SpanKind.Server, method, start, start + durationMs, false, attrs);
}
