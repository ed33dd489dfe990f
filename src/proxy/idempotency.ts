// Whether a request may be sent twice: what the retry interceptor and the stale-connection resend
// both ask before sending a request again.
import type { Dispatcher } from 'undici';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/** A request header's value from undici's flat [name, value, …] list. */
export function dispatchHeader(headers: Dispatcher.DispatchOptions['headers'], name: string): string | undefined {
  if (!Array.isArray(headers)) return undefined;
  for (let i = 0; i < headers.length; i += 2) if (String(headers[i]).toLowerCase() === name) return String(headers[i + 1]);
  return undefined;
}

/** Idempotent (RFC 9110 §9.2.2), or made so by an Idempotency-Key the API deduplicates on (as Stripe's does). */
export function retryableMethod(method: string, headers: Dispatcher.DispatchOptions['headers']): boolean {
  if (IDEMPOTENT.has(method)) return true;
  if (method !== 'POST' && method !== 'PATCH') return false;
  return dispatchHeader(headers, 'idempotency-key') !== undefined;
}
