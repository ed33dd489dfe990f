// OpenTelemetry set-up at the edge: which exporter, which sampler, which resource. The OTEL_*
// environment is read here, once, at startup; the layers only ever see a Tracer.
//
// Precedence: OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER, OTEL_TRACES_SAMPLER(_ARG) override the
// config file's `tracing` section (the spec defines them); `service` from the config (else
// OTEL_SERVICE_NAME, else "app") names the service, as the design's contract says.
// OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT/HEADERS/TIMEOUT/COMPRESSION are read by the OTLP exporter
// itself, OTEL_BSP_* bound the batch processor, OTEL_RESOURCE_ATTRIBUTES adds resource attributes.
import { diag, DiagLogLevel, trace, type ContextManager, type DiagLogger, type Tracer } from '@opentelemetry/api';
import type { Sampler, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Config } from '../config/load.js';
import { VERSION } from '../version.js';
import type { Logger } from './logger.js';
import { InflightSpans } from './inflight-spans.js';

type Env = Record<string, string | undefined>;

export type TraceExporterKind = 'otlp' | 'console' | 'none';

export interface TracingSettings {
  exporter: TraceExporterKind;
  /** why tracing is off, when it is */
  disabledBy?: 'OTEL_SDK_DISABLED' | 'OTEL_TRACES_EXPORTER' | 'tracing.exporter';
  /** OTEL_TRACES_SAMPLER name */
  sampler: string;
  ratio: number;
  maxQueueSize: number;
  maxExportBatchSize: number;
  scheduledDelayMillis: number;
  exportTimeoutMillis: number;
}

export interface Tracing {
  readonly tracer: Tracer;
  readonly settings: TracingSettings;
  /** ingress spans in flight, by request id, for egress calls that carry only X-Request-ID */
  readonly inflight: InflightSpans;
  /** exports what is queued and stops the SDK (drain) */
  shutdown(): Promise<void>;
}

const SAMPLERS = new Set([
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
]);

const nonNegative = (value: string | undefined, fallback: number): number => {
  const n = value === undefined || value.trim() === '' ? NaN : Number(value);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
};

/** The effective tracing settings: config, overridden by the OTEL_* variables the spec defines. */
export function tracingSettings(config: Pick<Config, 'tracing'>, env: Env = process.env): TracingSettings {
  const envExporter = env.OTEL_TRACES_EXPORTER?.split(',')[0]?.trim().toLowerCase();
  let exporter: TraceExporterKind = config.tracing.exporter;
  let disabledBy: TracingSettings['disabledBy'] = exporter === 'none' ? 'tracing.exporter' : undefined;
  if (envExporter === 'otlp' || envExporter === 'console' || envExporter === 'none') {
    exporter = envExporter;
    disabledBy = exporter === 'none' ? 'OTEL_TRACES_EXPORTER' : undefined;
  }
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') {
    exporter = 'none';
    disabledBy = 'OTEL_SDK_DISABLED';
  }
  const envSampler = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase();
  const sampler = envSampler && SAMPLERS.has(envSampler) ? envSampler : 'parentbased_traceidratio';
  const arg = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  const argRatio = arg ? Number(arg) : NaN;
  const ratio = Number.isFinite(argRatio) && argRatio >= 0 && argRatio <= 1 ? argRatio : config.tracing.sampleRatio;
  const maxQueueSize = Math.max(1, nonNegative(env.OTEL_BSP_MAX_QUEUE_SIZE, 2048));
  return {
    exporter,
    disabledBy,
    sampler,
    ratio,
    maxQueueSize,
    maxExportBatchSize: Math.min(maxQueueSize, Math.max(1, nonNegative(env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 512))),
    scheduledDelayMillis: nonNegative(env.OTEL_BSP_SCHEDULE_DELAY, 5000),
    exportTimeoutMillis: nonNegative(env.OTEL_BSP_EXPORT_TIMEOUT, 30000),
  };
}

/**
 * Starts the SDK, or returns undefined when tracing is off (exporter none, OTEL_SDK_DISABLED):
 * then no SDK module is even loaded, no exporter exists and no socket is opened, and
 * traceparent headers pass through sidelight untouched.
 */
export interface TracingHooks {
  /** the SDK dropped finished spans because its export queue was full */
  spansDropped?(count: number): void;
}

export async function startTracing(config: Config, logger: Logger, env: Env = process.env, hooks: TracingHooks = {}): Promise<Tracing | undefined> {
  const settings = tracingSettings(config, env);
  if (settings.exporter === 'none') {
    logger.debug({ msg: 'tracing off', reason: settings.disabledBy });
    return undefined;
  }
  // Loaded on demand: the SDK is a large module graph that a sidecar with tracing off never needs.
  const [{ NodeSDK }, base, resources] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/resources'),
  ]);

  diag.setLogger(rateLimitedDiag(logger, hooks), DiagLogLevel.WARN);

  let exporter: SpanExporter;
  let processor: SpanProcessor;
  if (settings.exporter === 'console') {
    exporter = new base.ConsoleSpanExporter();
    processor = new base.SimpleSpanProcessor(exporter);
  } else {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
    // http/protobuf; endpoint, headers, timeout and compression come from OTEL_EXPORTER_OTLP_*.
    exporter = new OTLPTraceExporter();
    // Bounded queue: a collector that is down or slow costs dropped spans (logged, rate-limited),
    // never request latency or unbounded memory. Export runs off the request path, on a timer.
    processor = new base.BatchSpanProcessor(exporter, {
      maxQueueSize: settings.maxQueueSize,
      maxExportBatchSize: settings.maxExportBatchSize,
      scheduledDelayMillis: settings.scheduledDelayMillis,
      exportTimeoutMillis: settings.exportTimeoutMillis,
    });
  }

  const ratioSampler = new base.TraceIdRatioBasedSampler(settings.ratio);
  const samplers: Record<string, () => Sampler> = {
    always_on: () => new base.AlwaysOnSampler(),
    always_off: () => new base.AlwaysOffSampler(),
    traceidratio: () => ratioSampler,
    parentbased_always_on: () => new base.ParentBasedSampler({ root: new base.AlwaysOnSampler() }),
    parentbased_always_off: () => new base.ParentBasedSampler({ root: new base.AlwaysOffSampler() }),
    parentbased_traceidratio: () => new base.ParentBasedSampler({ root: ratioSampler }),
  };

  const k8s: Record<string, string> = {};
  if (env.POD_NAME) k8s['k8s.pod.name'] = env.POD_NAME;
  if (env.POD_NAMESPACE) k8s['k8s.namespace.name'] = env.POD_NAMESPACE;
  if (env.NODE_NAME) k8s['k8s.node.name'] = env.NODE_NAME;
  // OTEL_RESOURCE_ATTRIBUTES (envDetector) first, then what sidelight knows for sure. No process or
  // host detectors: process.command_args could carry upstream URLs with credentials.
  const resource = resources
    .defaultResource()
    .merge(resources.detectResources({ detectors: [resources.envDetector] }))
    .merge(
      resources.resourceFromAttributes({
        'service.name': config.service,
        'service.version': VERSION,
        'sidelight.version': VERSION,
        ...k8s,
      }),
    );

  // NodeSDK, as the design asks, with everything it would otherwise set up from the environment
  // turned off: no instrumentations (sidelight makes its own spans and must not trace its own
  // undici/http calls), no metric readers, no log processors, no resource auto-detection.
  // contextManager: null — NodeSDK 0.223 registers an AsyncLocalStorageContextManager when the
  // option is undefined (sdk-node utils.setupContextManager: "null means 'do not register'");
  // it costs µs per request and sidelight passes every context explicitly.
  // textMapPropagator: null — no global propagator either; the layers extract and inject themselves.
  const sdk = new NodeSDK({
    instrumentations: [],
    metricReaders: [],
    logRecordProcessors: [],
    autoDetectResources: false,
    resource,
    contextManager: null as unknown as ContextManager,
    textMapPropagator: null,
    sampler: (samplers[settings.sampler] ?? samplers.parentbased_traceidratio)(),
    spanProcessors: [processor],
  });
  sdk.start();
  const tracer = trace.getTracer('sidelight', VERSION);
  logger.info({
    msg: 'tracing on',
    exporter: settings.exporter,
    sampler: settings.sampler,
    ratio: settings.ratio,
    endpoint: settings.exporter === 'otlp' ? otlpEndpoint(env) : undefined,
  });
  return {
    tracer,
    settings,
    inflight: new InflightSpans(config.limits.maxInflight),
    shutdown: () => sdk.shutdown(),
  };
}

/** Where spans go, for the startup log line (never the headers: they may hold API keys). */
function otlpEndpoint(env: Env): string {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces) return redactUrl(traces);
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || 'http://localhost:4318';
  return redactUrl(base.replace(/\/$/, '') + '/v1/traces');
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) u.username = u.password = '';
    u.search = '';
    return u.toString();
  } catch {
    return '(invalid URL)';
  }
}

const DIAG_EVERY_MS = 10_000;

/**
 * The SDK's own complaints (export failed, "Dropped N spans because maxQueueSize reached") as
 * log lines, at most one per kind every 10 s: a collector that is down must not flood the log.
 * Dropped spans are also counted (sidelight_trace_spans_dropped_total).
 */
function rateLimitedDiag(logger: Logger, hooks: TracingHooks): DiagLogger {
  const last = new Map<string, { at: number; suppressed: number }>();
  const emit = (level: 'warn' | 'error', message: string, args: unknown[]) => {
    // The batch processor reports each run of drops, with its count, once the queue takes a span
    // again: the one place the SDK says how many were lost. Counted before the rate limit.
    const dropped = /^Dropped (\d+) spans/.exec(message);
    if (dropped) hooks.spansDropped?.(Number(dropped[1]));
    const key = level + message.slice(0, 40);
    const now = Date.now();
    const seen = last.get(key);
    if (seen && now - seen.at < DIAG_EVERY_MS) {
      seen.suppressed++;
      return;
    }
    if (last.size > 100) last.clear();
    last.set(key, { at: now, suppressed: 0 });
    const detail = args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : safeJson(a))).join(' ');
    logger[level]({ msg: 'tracing', detail: `${message}${detail ? ' ' + detail : ''}`.slice(0, 500), suppressedSinceLast: seen?.suppressed || undefined });
  };
  return {
    error: (message, ...args) => emit('error', message, args),
    warn: (message, ...args) => emit('warn', message, args),
    info: () => undefined,
    debug: () => undefined,
    verbose: () => undefined,
  };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return String(value);
  }
}
