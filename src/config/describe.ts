// The effective config as a user would write it, secrets redacted: for `sidelight check` and GET /config.
import type { Config } from './load.js';
import { formatDuration, formatListen, formatServiceUrl, type ServiceUrl } from './values.js';

const DURATION_KEYS = new Set(['timeout', 'requestTimeout', 'interval', 'delay', 'backoff', 'maxBackoff', 'resetTimeout', 'rollingWindow', 'idleTimeout', 'maxDuration']);
const SECRET_KEYS = new Set(['token']);
/** loaded file contents: the file name is shown instead */
const HIDDEN_KEYS = new Set(['caPem']);

export function describeConfig(config: Config): unknown {
  // `spans` is derived from `tracing` and the OTEL_* environment, not something a user writes.
  const { egress, spans: _spans, written, ...rest } = config;
  const upstreams: Record<string, unknown> = {};
  for (const { name, ...u } of egress.upstreams) upstreams[name] = u;
  return toPlain({ ...rest, egress: { listen: egress.listen, upstreams, tunnels: egress.tunnels } }, '', written);
}

/** `written` is the same place in the config as written: a duration is shown as it was written there. */
function toPlain(value: unknown, key: string, written: unknown): unknown {
  if (SECRET_KEYS.has(key)) return value === undefined ? undefined : '[redacted]';
  if (value instanceof URL) return formatServiceUrl(value as ServiceUrl);
  // a number written as a string is a duration; one nobody wrote is a default
  if (typeof value === 'number' && typeof written === 'string') return written;
  if (typeof value === 'number' && DURATION_KEYS.has(key)) return formatDuration(value);
  if (Array.isArray(value)) return value.map((v) => toPlain(v, '', undefined));
  if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if (typeof record.host === 'string' && typeof record.port === 'number' && Object.keys(record).length === 2) {
      return formatListen(record as { host: string; port: number });
    }
    const out: Record<string, unknown> = {};
    const writtenRecord = written && typeof written === 'object' ? (written as Record<string, unknown>) : {};
    for (const [k, v] of Object.entries(record)) if (v !== undefined && !HIDDEN_KEYS.has(k)) out[k] = toPlain(v, k, writtenRecord[k]);
    return out;
  }
  return value;
}
