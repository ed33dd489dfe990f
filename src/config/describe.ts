// The effective config as a user would write it, secrets redacted: for `sidelight check` and GET /config.
import ms from 'ms';
import type { Config } from './load.js';
import { formatListen } from './values.js';

const DURATION_KEYS = new Set(['timeout', 'requestTimeout', 'interval', 'delay', 'backoff', 'maxBackoff', 'resetTimeout', 'rollingWindow', 'idleTimeout', 'maxDuration']);
const SECRET_KEYS = new Set(['token']);
/** loaded file contents: the file name is shown instead */
const HIDDEN_KEYS = new Set(['caPem']);

export function describeConfig(config: Config): unknown {
  // `spans` is derived from `tracing` and the OTEL_* environment, not something a user writes.
  const { egress, spans: _spans, ...rest } = config;
  const upstreams: Record<string, unknown> = {};
  for (const { name, ...u } of egress.upstreams) upstreams[name] = u;
  return toPlain({ ...rest, egress: { listen: egress.listen, upstreams, tunnels: egress.tunnels } }, '');
}

function toPlain(value: unknown, key: string): unknown {
  if (SECRET_KEYS.has(key)) return value === undefined ? undefined : '[redacted]';
  if (value instanceof URL) return value.href.replace(/\/$/, '');
  if (typeof value === 'number' && DURATION_KEYS.has(key)) return ms(value);
  if (Array.isArray(value)) return value.map((v) => toPlain(v, ''));
  if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if (typeof record.host === 'string' && typeof record.port === 'number' && Object.keys(record).length === 2) {
      return formatListen(record as { host: string; port: number });
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(record)) if (v !== undefined && !HIDDEN_KEYS.has(k)) out[k] = toPlain(v, k);
    return out;
  }
  return value;
}
