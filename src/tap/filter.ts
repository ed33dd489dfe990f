// A tap client's filter, from the query string of GET /tap: parsed and validated once when the
// client connects, then matched against every record. A parameter may repeat (any value
// matches); different parameters must all match. An unknown parameter is an error, so a typo
// never silently shows everything.
import { duration } from '../config/values.js';
import { isFailure, type TapRecord } from './record.js';

export interface TapFilter {
  listener?: Set<string>;
  route?: Set<string>;
  upstream?: Set<string>;
  requestId?: Set<string>;
  /** status codes (503) and classes (5 for "5xx") */
  status?: { codes: Set<number>; classes: Set<number> };
  minDurationMs: number;
  failed: boolean;
}

export class TapFilterError extends Error {}

export const FILTER_PARAMS = ['listener', 'route', 'upstream', 'status', 'minDuration', 'requestId', 'failed'] as const;

export function parseTapFilter(params: URLSearchParams): TapFilter {
  for (const name of params.keys()) {
    if (!(FILTER_PARAMS as readonly string[]).includes(name)) {
      throw new TapFilterError(`unknown tap filter "${name}" (known: ${FILTER_PARAMS.join(', ')})`);
    }
  }
  const set = (name: string) => {
    const values = params.getAll(name).flatMap((v) => v.split(','));
    return values.length ? new Set(values) : undefined;
  };
  const filter: TapFilter = {
    listener: set('listener'),
    route: set('route'),
    upstream: set('upstream'),
    requestId: set('requestId'),
    minDurationMs: 0,
    failed: false,
  };
  const statuses = set('status');
  if (statuses) {
    filter.status = { codes: new Set(), classes: new Set() };
    for (const s of statuses) {
      const text = s.trim().toLowerCase();
      if (/^[1-5]xx$/.test(text)) filter.status.classes.add(Number(text[0]));
      else if (/^[1-5]\d\d$/.test(text)) filter.status.codes.add(Number(text));
      else throw new TapFilterError(`status: "${s}" is neither a code (503) nor a class (5xx)`);
    }
  }
  const min = params.get('minDuration');
  if (min !== null) {
    const parsed = duration.safeParse(min);
    if (!parsed.success) throw new TapFilterError(`minDuration: invalid duration "${min}" (use a unit: "250ms", "1s")`);
    filter.minDurationMs = parsed.data;
  }
  filter.failed = flag('failed', params.get('failed'));
  return filter;
}

/** A true/false query parameter: absent is false, a bare `?name` true. */
export function flag(name: string, value: string | null): boolean {
  if (value === null || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1' || value === '') return true;
  throw new TapFilterError(`${name}: "${value}" must be true or false`);
}

export function matches(filter: TapFilter, record: TapRecord): boolean {
  if (filter.listener && !filter.listener.has(record.listener)) return false;
  if (filter.upstream && !filter.upstream.has(record.upstream)) return false;
  if (filter.requestId && !filter.requestId.has(record.requestId)) return false;
  if (record.durationMs < filter.minDurationMs) return false;
  if (filter.failed && !isFailure(record)) return false;
  if (filter.route && !filter.route.has(String((record as { route?: unknown }).route ?? ''))) return false;
  if (filter.status) {
    const status = (record as { status?: unknown }).status;
    if (typeof status !== 'number') return false;
    if (!filter.status.codes.has(status) && !filter.status.classes.has(Math.floor(status / 100))) return false;
  }
  return true;
}
