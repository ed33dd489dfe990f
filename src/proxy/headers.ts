// Header plumbing: hop-by-hop removal (RFC 9110 §7.6.1) and the X-Forwarded-* set.
import type { IncomingMessage } from 'node:http';
import type { ResponseHeaders } from './layer.js';

/**
 * Never copied from the client. `expect` is added back by the pipeline where the app decides on
 * 100-continue (undici refuses it); `host` (and HTTP/2's `:authority`) is handled separately so
 * egress can rewrite it; `te: trailers` goes on to an HTTP/2 upstream (gRPC requires it). The
 * other pseudo-headers are the request line, which undici writes itself.
 */
const HOP_BY_HOP = new Set([
  ':method',
  ':path',
  ':scheme',
  ':authority',
  ':protocol',
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'host',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
]);

/** Names listed in a Connection header are hop-by-hop for that message. */
function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  // The common values name no extra headers: skip the split on the hot path.
  if (!value || value === 'keep-alive' || value === 'close') return undefined;
  const text = Array.isArray(value) ? value.join(',') : value;
  let tokens: Set<string> | undefined;
  for (const part of text.split(',')) {
    const token = part.trim().toLowerCase();
    if (token && token !== 'close' && token !== 'keep-alive') (tokens ??= new Set()).add(token);
  }
  return tokens;
}

/** What the target asks of the request head. */
export interface HeaderRewrite {
  /** the Host header to send; undefined keeps the client's */
  readonly host: string | undefined;
  /** add X-Forwarded-For/-Proto/-Host (ingress); egress passes the app's own through untouched */
  readonly setForwarded: boolean;
  /** the upstream speaks HTTP/2 */
  readonly http2: boolean;
}

/**
 * The client's request headers as a flat [name, value, …] list for undici, minus hop-by-hop
 * headers and those that layers own, plus X-Forwarded-* when the target wants them.
 * `authority` is the host an absolute-form request-target named: it replaces the client's Host
 * (RFC 9112 §3.2.2).
 */
export function forwardRequestHeaders(
  req: IncomingMessage,
  owned: ReadonlySet<string>,
  target: HeaderRewrite,
  extra: readonly string[],
  authority?: string,
): string[] {
  const raw = req.rawHeaders;
  const out: string[] = [];
  const dynamic = connectionTokens(req.headers.connection);
  let forwardedFor: string | undefined;
  let forwardedProto: string | undefined;
  let forwardedHost: string | undefined;
  let clientHost: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (HOP_BY_HOP.has(name) || owned.has(name) || dynamic?.has(name)) {
      if (name === 'host' || name === ':authority') clientHost = raw[i + 1];
      else if (name === 'te') {
        if (target.http2 && raw[i + 1].trim().toLowerCase() === 'trailers') out.push('te', 'trailers');
      } else if (name.charCodeAt(0) === 58 /* : */) continue;
      else if (!target.setForwarded) {
        if (name.startsWith('x-forwarded-') && !owned.has(name) && !dynamic?.has(name)) out.push(name, raw[i + 1]);
      } else if (name === 'x-forwarded-for') forwardedFor = forwardedFor ? `${forwardedFor}, ${raw[i + 1]}` : raw[i + 1];
      else if (name === 'x-forwarded-proto') forwardedProto ??= raw[i + 1];
      else if (name === 'x-forwarded-host') forwardedHost ??= raw[i + 1];
      continue;
    }
    out.push(name, raw[i + 1]);
  }
  if (authority !== undefined) clientHost = authority;
  const sentHost = target.host ?? clientHost;
  if (sentHost) out.push('host', sentHost);
  if (!target.setForwarded) {
    for (let i = 0; i < extra.length; i++) out.push(extra[i]);
    return out;
  }
  const remote = req.socket.remoteAddress ?? '';
  out.push(
    'x-forwarded-for',
    forwardedFor ? `${forwardedFor}, ${remote}` : remote,
    'x-forwarded-proto',
    forwardedProto ?? ('encrypted' in req.socket ? 'https' : 'http'),
  );
  if (forwardedHost ?? clientHost) out.push('x-forwarded-host', (forwardedHost ?? clientHost) as string);
  for (let i = 0; i < extra.length; i++) out.push(extra[i]);
  return out;
}

const RESPONSE_HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Removes hop-by-hop headers from an upstream response, in place. One pass over the names the
 * upstream sent: asking the object for each of the eight names it usually lacks cost ~1k
 * instructions a response (every lookup megamorphic: undici builds each response's object anew).
 */
export function stripResponseHopByHop(headers: ResponseHeaders): ResponseHeaders {
  let dynamic: Set<string> | undefined;
  for (const name in headers) {
    if (!RESPONSE_HOP_BY_HOP.has(name)) continue;
    if (name === 'connection') dynamic = connectionTokens(headers.connection);
    delete headers[name];
  }
  if (dynamic) for (const name of dynamic) delete headers[name];
  return headers;
}

/**
 * node:http2's cap on the count of headers in one block (maxHeaderListPairs) for a head limited to
 * `maxHeaderBytes`: HPACK counts each field as its name, its value and 32 bytes, so no block within
 * the size limit is refused for its count, as node:http counts none (Node's default would be 128).
 */
export function headerPairsWithin(maxHeaderBytes: number): number {
  return Math.max(128, Math.ceil(maxHeaderBytes / 32));
}
