// Retry-After (RFC 9110 §10.2.3), read where an answer carries one: the egress admission holds
// an upstream's rate limiter for it, the retry waits it out, the span export waits before its next try.

/** Retry-After in ms (delay-seconds or an HTTP-date), or -1 when absent or not valid. */
export function parseRetryAfter(value: string | string[] | undefined): number {
  if (value === undefined) return -1;
  const text = (Array.isArray(value) ? value[0] : value).trim();
  if (/^\d{1,9}$/.test(text)) return Number(text) * 1000;
  // an HTTP-date names its day and month ("Wed, 21 Oct 2015 07:28:00 GMT"); Date.parse alone takes "-1" too
  if (!/^[A-Za-z]{3}, /.test(text)) return -1;
  const at = Date.parse(text);
  return Number.isNaN(at) ? -1 : Math.max(0, at - Date.now());
}
