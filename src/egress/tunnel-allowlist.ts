// Which upstream a CONNECT is for, if any. sidelight stays an allowlist, never an open proxy: the
// authority must name one of a configured upstream's `hosts` (matched as the router matches a
// Host header) on port 443 or the port of the upstream's URL, and the tunnel then goes to that
// upstream's configured address, never to wherever the name resolves. Any other name, an IP
// literal that is not a configured host, or another port is refused before anything connects.
import type { Upstream } from '../config/load.js';
import { rejection, type Rejection } from '../errors.js';
import { unbracket, urlPort } from '../net/address.js';
import { hostLookup } from './router.js';

/** Where one upstream's tunnels go. */
export interface TunnelAddress {
  /** the configured URL's host (an IPv6 literal without brackets) and port */
  readonly host: string;
  readonly port: number;
  /** the ports a CONNECT may name: 443, and the URL's own */
  readonly ports: readonly number[];
}

/** host:port, with an IPv6 literal in brackets; nothing else (no userinfo, no path) */
const AUTHORITY = /^(\[[0-9a-f:.]+\]|[a-z0-9._-]+):(\d{1,5})$/i;

export function tunnelAddress(url: URL): TunnelAddress {
  const port = urlPort(url);
  return { host: unbracket(url.hostname), port, ports: port === 443 ? [443] : [443, port] };
}

/**
 * `valueOf` gives what the handler needs of an upstream; the allowlist answers with it, or with
 * the refusal: 400 for an authority that is not host:port, 403 `upstream_not_allowed` otherwise.
 */
export function createTunnelAllowlist<T>(upstreams: readonly Upstream[], valueOf: (u: Upstream, address: TunnelAddress) => T): (authority: string) => T | Rejection {
  const names = upstreams.map((u) => u.name);
  const lookup = hostLookup(upstreams, (u) => {
    const address = tunnelAddress(u.url);
    return { name: u.name, address, value: valueOf(u, address) };
  });
  const notAllowed = (message: string) => rejection('upstream_not_allowed', message, { close: true, details: { upstreams: names } });
  return (authority) => {
    const parts = AUTHORITY.exec(authority);
    const port = parts ? Number(parts[2]) : 0;
    if (!parts || port < 1 || port > 65535) {
      return rejection('bad_request', 'CONNECT needs host:port (e.g. CONNECT api.stripe.com:443)', { close: true });
    }
    const found = lookup(authority);
    if (!found) return notAllowed("CONNECT is allowed only to the hosts of configured upstreams (egress.upstreams.*.hosts)");
    if (!found.address.ports.includes(port)) {
      return notAllowed(`${parts[1]} is a host of upstream ${found.name}, but a tunnel to it may only name port ${found.address.ports.join(' or ')}`);
    }
    return found.value;
  };
}
