// The span pipeline, assembled from the effective settings (src/config/tracing-env.ts): a
// sampler, the queue of finished SpanRecords and where they go (OTLP/HTTP or the console).
// The layers (src/layers/server-tracing.ts, egress-tracing.ts) and the tries' interceptor
// (src/egress/dispatch/client-tracing.ts) decide ids and sampling while a
// request is in flight and hand over one SpanRecord when it is over; nothing else is traced.
//
// Why not the OpenTelemetry SDK (sdk-node, sdk-trace-base, exporter-trace-otlp-proto): sidelight
// records exactly two span shapes and knows each span's parent explicitly, and the SDK's generic
// path cost more than the whole rest of the proxy per request (span objects, attribute maps,
// protobuf serialisation inside span.end()), its batch processor let exports overlap and pile up
// memory with a dead collector, and loading it took a third of the start-up time. bench/RESULTS.md
// gives the measured figures.
import type { TracingSettings } from '../config/tracing-env.js';
import type { TraceParent } from '../proxy/exchange.js';
import { redact } from '../config/tracing-env.js';
import { VERSION } from '../version.js';
import type { Logger } from './logger.js';
import { InflightSpans } from './inflight-spans.js';
import { ConsoleTransport } from './spans/console-transport.js';
import { ExportQueue, type DropReason } from './spans/export-queue.js';
import { OtlpTraceEncoder } from './spans/otlp-encoding.js';
import { OtlpHttpTransport } from './spans/otlp-http.js';
import { createSampler, type Sampler } from './spans/sampler.js';
import type { SpanRecord } from './spans/span-record.js';
import { ThrottledLog } from './throttled-log.js';

export interface Tracing {
  /** sampled or not, for a new span in this trace */
  readonly sample: Sampler;
  /** ingress exchanges in flight, by request id, for egress calls that carry only X-Request-ID */
  readonly inflight: InflightSpans<TraceParent>;
  /** a finished span, for export */
  record(span: SpanRecord): void;
  /** exports what is queued and stops (the drain) */
  shutdown(): Promise<void>;
}

export interface TracingHooks {
  spansExported?(count: number): void;
  spansDropped?(count: number, reason: DropReason): void;
}

/** undefined when tracing is off: then no layer is composed and trace headers pass through untouched. */
export function startTracing(settings: TracingSettings, maxInflight: number, logger: Logger, hooks: TracingHooks = {}): Tracing | undefined {
  if (settings.exporter === 'none') {
    logger.debug({ msg: 'tracing off', reason: settings.disabledBy });
    return undefined;
  }
  const endpoint = settings.otlp ? redact(settings.otlp.endpoint.href) : undefined;
  const transport =
    settings.otlp !== undefined
      ? new OtlpHttpTransport(settings.otlp, new OtlpTraceEncoder(settings.resource, 'sidelight', VERSION))
      : new ConsoleTransport(logger);
  const warnings = new ThrottledLog(logger, 'tracing');
  const unreported: Record<DropReason, number> = { queue_full: 0, export_failed: 0 };
  /** why the collector did not take the last batch it failed */
  let lastFailure: string | undefined;
  const report = (reason: DropReason) => {
    const why =
      reason === 'queue_full'
        ? `the export queue (OTEL_BSP_MAX_QUEUE_SIZE=${settings.maxQueueSize}) was full: the collector at ${endpoint} is down or slow`
        : `the collector at ${endpoint} did not take them: ${lastFailure}`;
    warnings.warn(reason, { detail: `Dropped ${unreported[reason]} spans: ${why}` });
    unreported[reason] = 0;
  };
  const queue = new ExportQueue(
    transport,
    {
      maxQueueSize: settings.maxQueueSize,
      maxExportBatchSize: settings.maxExportBatchSize,
      // Console lines should show up about when the request does.
      scheduledDelayMillis: settings.otlp ? settings.scheduledDelayMillis : Math.min(settings.scheduledDelayMillis, 200),
    },
    {
      exported: hooks.spansExported,
      dropped(count, reason, detail) {
        hooks.spansDropped?.(count, reason);
        unreported[reason] += count;
        if (reason === 'export_failed') lastFailure = detail;
        if (warnings.due(reason)) report(reason);
      },
      retrying(count, delayMs, detail) {
        logger.debug({ msg: 'tracing', kind: 'export_retry', spans: count, retryInMs: Math.round(delayMs), detail });
      },
    },
  );
  logger.info({ msg: 'tracing on', exporter: settings.exporter, sampler: settings.sampler, ratio: settings.ratio, endpoint });
  return {
    sample: createSampler(settings.sampler, settings.ratio),
    inflight: new InflightSpans<TraceParent>(maxInflight),
    record: (span) => queue.add(span),
    // Drops held back by the log's throttle are reported before the exit, whatever the throttle says.
    shutdown: async () => {
      await queue.shutdown();
      if (unreported.queue_full > 0) report('queue_full');
      if (unreported.export_failed > 0) report('export_failed');
    },
  };
}
