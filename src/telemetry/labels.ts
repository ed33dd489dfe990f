// Label values bounded by construction: a fixed method set, status codes as cached strings,
// and error types interned into a small index. Indexes let callers key their series caches
// by one small integer instead of a composed string.

/** OpenTelemetry's known HTTP methods; anything else is "_OTHER". */
export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', '_OTHER'] as const;
const OTHER_METHOD = METHODS.length - 1;

export function methodIndex(method: string): number {
  switch (method) {
    case 'GET': return 0;
    case 'HEAD': return 1;
    case 'POST': return 2;
    case 'PUT': return 3;
    case 'DELETE': return 4;
    case 'CONNECT': return 5;
    case 'OPTIONS': return 6;
    case 'TRACE': return 7;
    case 'PATCH': return 8;
    default: return OTHER_METHOD;
  }
}

/** HTTP status codes are three digits; 0 (no response) is "". */
export function statusIndex(status: number): number {
  return status >= 100 && status <= 999 ? status : 0;
}

const STATUS_TEXT: string[] = [];
export function statusLabel(index: number): string {
  return index === 0 ? '' : (STATUS_TEXT[index] ??= String(index));
}

/** error types sidelight produces are a short fixed vocabulary; a cap keeps a bug from growing it */
const MAX_ERROR_TYPES = 62;
const errorTypes = new Map<string, number>([['', 0], ['_OTHER', 1]]);
const errorTypeNames: string[] = ['', '_OTHER'];
export const ERROR_TYPE_SLOTS = MAX_ERROR_TYPES + 2;

export function errorTypeIndex(errorType: string | undefined): number {
  if (!errorType) return 0;
  let i = errorTypes.get(errorType);
  if (i === undefined) {
    if (errorTypeNames.length >= MAX_ERROR_TYPES) return 1;
    i = errorTypeNames.length;
    errorTypes.set(errorType, i);
    errorTypeNames.push(errorType);
  }
  return i;
}

export function errorTypeLabel(index: number): string {
  return errorTypeNames[index];
}

/** One integer for (method, status, error type): the key of a per-route or per-upstream series cache. */
export function seriesKey(method: number, status: number, errorType: number): number {
  return (method * 1000 + status) * ERROR_TYPE_SLOTS + errorType;
}
