// An upstream (the app included) that answers with something other than HTTP/1.1 — a TLS or
// HTTP/2-only server on a plain port, the wrong service on that port, a broken app — fails the
// request with 502 upstream_protocol_error; this says so in the log, with the upstream and
// llhttp's reason, as at most one warning per origin every 10 s (a broken app fails every request).
// undici reports every failed request on the diagnostics channel "undici:request:error", so the
// request path carries nothing for it.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { parserReason, socketFailureKind } from '../net/socket-errors.js';
import type { Logger } from './logger.js';
import { ThrottledLog } from './throttled-log.js';

const CHANNEL = 'undici:request:error';

interface RequestError {
  request: { origin?: string; headers?: unknown };
  error: Error;
}

/** `targets`: the app and each egress upstream, by name and origin; returns the unsubscribe. */
export function logUpstreamProtocolErrors(logger: Logger, targets: ReadonlyArray<{ name: string; origin: string }>): () => void {
  // origin → the upstreams using it ("app", "billing,stripe")
  const upstreams = new Map<string, string>();
  for (const t of targets) upstreams.set(t.origin, upstreams.has(t.origin) ? `${upstreams.get(t.origin)},${t.name}` : t.name);
  const log = new ThrottledLog(logger, "upstream's answer is not HTTP");
  const onError = (message: unknown): void => {
    const { request, error } = message as RequestError;
    const origin = request.origin;
    const upstream = origin === undefined ? undefined : upstreams.get(origin);
    // Other undici clients in the process (an exporter's fetch) are not ours to report.
    if (upstream === undefined || socketFailureKind(error) !== 'protocol_error' || !log.due(upstream)) return;
    log.warn(upstream, { upstream, origin, reason: parserReason(error), code: (error as { code?: string }).code, requestId: requestIdOf(request.headers) });
  };
  subscribe(CHANNEL, onError);
  return () => unsubscribe(CHANNEL, onError);
}

/** The X-Request-ID sidelight sent: undici keeps a request's headers as a flat [name, value, …] list. */
function requestIdOf(headers: unknown): string | undefined {
  if (!Array.isArray(headers)) return undefined;
  for (let i = 0; i < headers.length; i += 2) if (String(headers[i]).toLowerCase() === 'x-request-id') return String(headers[i + 1]);
  return undefined;
}
