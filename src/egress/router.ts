// Which upstream an egress request is for, in the design's order (the dedicated listeners are
// separate pipelines that skip this): the absolute-form request line of an HTTP_PROXY client or
// the Host header, matched against `hosts`; then a `/NAME/…` prefix on the shared port.
//
// Never an open proxy: the destination is always a configured upstream's own origin (its pool
// can reach nothing else), never an address taken from the request. Anything that names no
// upstream is a 404 here; a request-target that is not a plain path, or a path with
// dot-segments (so `/stripe/../twilio/x` cannot mean one thing here and another upstream), is
// a 400.
import type { Upstream } from '../config/load.js';
import { hostname } from '../net/address.js';
import { parseAbsoluteForm } from '../net/request-target.js';
import type { Exchange } from '../proxy/exchange.js';
import { rejection, type Rejection } from '../errors.js';
import type { Target } from '../proxy/layer.js';

/** `.` or `..` as a path segment, also when spelled with %2e, %2f or backslashes. */
export function hasDotSegment(path: string): boolean {
  const decoded = path.replace(/%2e/gi, '.').replace(/%2f|%5c|\\/gi, '/');
  for (const segment of decoded.split('/')) if (segment === '.' || segment === '..') return true;
  return false;
}

/**
 * Finds what is configured for a `Host` header or an authority, by the upstreams' `hosts`: an
 * entry with a port matches that host:port exactly, one without matches the host on any port.
 * The one host matcher of egress: the router and the CONNECT allowlist both use it.
 */
export function hostLookup<T>(upstreams: readonly Upstream[], valueOf: (u: Upstream) => T): (host: string) => T | undefined {
  const byHost = new Map<string, T>();
  for (const u of upstreams) {
    const value = valueOf(u);
    for (const h of u.hosts) byHost.set(h, value);
  }
  return (host) => byHost.get(host.trim().toLowerCase()) ?? byHost.get(hostname(host));
}

export function createRouter(upstreams: Upstream[], targets: Map<string, Target>) {
  const names = upstreams.map((u) => u.name);
  const lookupHost = hostLookup(upstreams, (u) => targets.get(u.name)!);

  const unknown = (): Rejection =>
    rejection('unknown_upstream', 'no configured upstream matches this request', { details: { upstreams: names } });
  const bad = (message: string): Rejection => rejection('bad_request', message);

  return function resolve(ex: Exchange): Target | Rejection {
    const url = ex.upstreamPath;

    // 2a. HTTP_PROXY clients send the full URL; it names the destination, so it alone decides.
    const absolute = parseAbsoluteForm(url);
    if (absolute !== undefined) {
      if (absolute.scheme !== 'http') return bad('only http:// URLs can be proxied; sidelight originates TLS itself');
      if (absolute.userinfo) return bad('credentials in the request URL are not accepted');
      if (absolute.host === '') return bad('malformed absolute request URL');
      const target = lookupHost(absolute.host);
      if (!target) return unknown();
      if (hasDotSegment(ex.path)) return bad('request path contains dot-segments');
      ex.upstreamPath = ex.path + ex.query;
      return target;
    }

    // Anything but an origin-form path ("*", "evil.com:443", …) is not for us.
    if (url.charCodeAt(0) !== 47 /* / */) return bad('request target must be a path');
    if (hasDotSegment(ex.path)) return bad('request path contains dot-segments');

    // 2b. The Host header names a configured API: the path goes as it is.
    const host = ex.req.headers.host;
    if (host) {
      const target = lookupHost(host);
      if (target) return target;
    }

    // 3. /NAME/… on the shared port, prefix stripped. The name must be a whole first segment.
    const end = ex.path.indexOf('/', 1);
    const name = ex.path.slice(1, end === -1 ? undefined : end);
    const target = names.includes(name) ? targets.get(name) : undefined;
    if (!target) return unknown();
    const rest = url.slice(1 + name.length);
    ex.upstreamPath = rest === '' || rest.charCodeAt(0) === 63 /* ? */ ? `/${rest}` : rest;
    return target;
  };
}
