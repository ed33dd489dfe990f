// The effective tracing settings: the config file's `tracing` section overridden by the OTEL_*
// variables the OpenTelemetry specification defines, read here once at start-up. A value that
// cannot work (an endpoint that is not a URL, an unreadable certificate) is a config error that
// names the variable; a value the spec says to ignore is ignored.
//
// Precedence: OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER, OTEL_TRACES_SAMPLER(_ARG) override the
// file; `service` (else OTEL_SERVICE_NAME, else "app") names the service.
import { readFileSync } from 'node:fs';
import { ConfigError } from './errors.js';

type Env = Record<string, string | undefined>;

/** OTEL_TRACES_SAMPLER's values, as the OpenTelemetry specification names them */
export type SamplerName =
  | 'always_on'
  | 'always_off'
  | 'traceidratio'
  | 'parentbased_always_on'
  | 'parentbased_always_off'
  | 'parentbased_traceidratio';

export const SAMPLER_NAMES: readonly SamplerName[] = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
];

export type TraceExporterKind = 'otlp' | 'console' | 'none';

export interface OtlpExportSettings {
  /** full URL of the traces endpoint (…/v1/traces) */
  endpoint: URL;
  /** OTEL_EXPORTER_OTLP_(TRACES_)HEADERS: often an API key, so never printed */
  headers: Record<string, string>;
  timeoutMillis: number;
  compression: 'gzip' | 'none';
  ca?: string;
  clientCertificate?: string;
  clientKey?: string;
  userAgent: string;
}

export interface TracingSettings {
  exporter: TraceExporterKind;
  /** why tracing is off, when it is */
  disabledBy?: 'OTEL_SDK_DISABLED' | 'OTEL_TRACES_EXPORTER' | 'tracing.exporter';
  sampler: SamplerName;
  ratio: number;
  maxQueueSize: number;
  maxExportBatchSize: number;
  scheduledDelayMillis: number;
  exportTimeoutMillis: number;
  /** set when exporter is otlp */
  otlp?: OtlpExportSettings;
  /** resource attributes: OTEL_RESOURCE_ATTRIBUTES, then what sidelight knows for sure */
  resource: Record<string, string>;
}

const nonNegative = (value: string | undefined, fallback: number): number => {
  const n = value === undefined || value.trim() === '' ? NaN : Number(value);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
};

export interface TracingInput {
  tracing: { exporter: TraceExporterKind; sampleRatio: number };
  service: string;
  version: string;
}

export function tracingSettings(config: TracingInput, env: Env = process.env): TracingSettings {
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
  const envSampler = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase() as SamplerName | undefined;
  const sampler = envSampler && SAMPLER_NAMES.includes(envSampler) ? envSampler : 'parentbased_traceidratio';
  const arg = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  const argRatio = arg ? Number(arg) : NaN;
  const ratio = Number.isFinite(argRatio) && argRatio >= 0 && argRatio <= 1 ? argRatio : config.tracing.sampleRatio;
  const maxQueueSize = Math.max(1, nonNegative(env.OTEL_BSP_MAX_QUEUE_SIZE, 2048));
  const exportTimeoutMillis = nonNegative(env.OTEL_BSP_EXPORT_TIMEOUT, 30000);
  return {
    exporter,
    disabledBy,
    sampler,
    ratio,
    maxQueueSize,
    maxExportBatchSize: Math.min(maxQueueSize, Math.max(1, nonNegative(env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 512))),
    scheduledDelayMillis: nonNegative(env.OTEL_BSP_SCHEDULE_DELAY, 5000),
    exportTimeoutMillis,
    otlp: exporter === 'otlp' ? otlpSettings(env, exportTimeoutMillis, config.version) : undefined,
    resource: resourceAttributes(config, env),
  };
}

/** OTEL_EXPORTER_OTLP_TRACES_* wins over OTEL_EXPORTER_OTLP_*, per the exporter specification. */
function otlpSettings(env: Env, exportTimeoutMillis: number, version: string): OtlpExportSettings {
  const pick = (name: string): [string, string] | undefined => {
    for (const key of [`OTEL_EXPORTER_OTLP_TRACES_${name}`, `OTEL_EXPORTER_OTLP_${name}`]) {
      const value = env[key]?.trim();
      if (value) return [key, value];
    }
    return undefined;
  };
  return {
    endpoint: endpointOf(env),
    headers: headersOf(pick('HEADERS')),
    // The exporter's own timeout, bounded by the batch processor's export timeout.
    timeoutMillis: Math.max(1, Math.min(exportTimeoutMillis || Infinity, nonNegative(pick('TIMEOUT')?.[1], 10_000))),
    compression: pick('COMPRESSION')?.[1].toLowerCase() === 'gzip' ? 'gzip' : 'none',
    ca: readPem(pick('CERTIFICATE')),
    clientCertificate: readPem(pick('CLIENT_CERTIFICATE')),
    clientKey: readPem(pick('CLIENT_KEY')),
    userAgent: `sidelight/${version}`,
  };
}

function endpointOf(env: Env): URL {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  // The signal-specific variable is used as it is; the base gets /v1/traces appended.
  const [key, text] = traces ? ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', traces] : ['OTEL_EXPORTER_OTLP_ENDPOINT', base ? `${base.replace(/\/+$/, '')}/v1/traces` : 'http://localhost:4318/v1/traces'];
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`${key}: not a URL (use e.g. http://otel-collector:4318)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${key}: only http:// and https:// endpoints are supported (OTLP/HTTP)`);
  if (url.username || url.password) throw new ConfigError(`${key}: credentials in the URL are not accepted; use OTEL_EXPORTER_OTLP_HEADERS`);
  return url;
}

/** "k1=v1,k2=v2", values percent-decoded (the W3C Baggage format the spec names); bad pairs are skipped. */
function headersOf(entry: [string, string] | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (!entry) return headers;
  for (const pair of entry[1].split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const name = pair.slice(0, eq).trim().toLowerCase();
    try {
      headers[name] = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      headers[name] = pair.slice(eq + 1).trim();
    }
  }
  return headers;
}

function readPem(entry: [string, string] | undefined): string | undefined {
  if (!entry) return undefined;
  try {
    return readFileSync(entry[1], 'utf8');
  } catch (err) {
    throw new ConfigError(`${entry[0]}: cannot read "${entry[1]}" (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/** OTEL_RESOURCE_ATTRIBUTES first; then what sidelight knows for sure wins. No process or host
 * detectors: process.command_args could carry upstream URLs with credentials. */
function resourceAttributes(config: TracingInput, env: Env): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const pair of (env.OTEL_RESOURCE_ATTRIBUTES ?? '').split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    try {
      attributes[pair.slice(0, eq).trim()] = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      // the spec: a value that does not decode is skipped
    }
  }
  Object.assign(attributes, {
    'service.name': config.service,
    'service.version': config.version,
    'telemetry.sdk.name': 'sidelight',
    'telemetry.sdk.language': 'nodejs',
    'telemetry.sdk.version': config.version,
    'sidelight.version': config.version,
  });
  if (env.POD_NAME) attributes['k8s.pod.name'] = env.POD_NAME;
  if (env.POD_NAMESPACE) attributes['k8s.namespace.name'] = env.POD_NAMESPACE;
  if (env.NODE_NAME) attributes['k8s.node.name'] = env.NODE_NAME;
  return attributes;
}

/** An endpoint for a log line or /config: no credentials, no query. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    u.username = u.password = '';
    u.search = '';
    return u.toString();
  } catch {
    return '(not a URL)';
  }
}
