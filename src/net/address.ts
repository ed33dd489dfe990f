// Host names and authorities as they appear in URLs and headers: written once here.

/** "[::1]" → "::1"; any other host as it is */
export function unbracket(host: string): string {
  return host.charCodeAt(0) === 91 /* [ */ && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * "host:port", "[v6]:port" or a bare host → the host (brackets kept) and the port text ("" when
 * none). The last colon after any closing bracket separates them.
 */
export function splitHostPort(authority: string): { host: string; port: string } {
  const close = authority.lastIndexOf(']');
  const colon = authority.lastIndexOf(':');
  return colon > close ? { host: authority.slice(0, colon), port: authority.slice(colon + 1) } : { host: authority, port: '' };
}

/** "API.Stripe.com:443." → "api.stripe.com": the host of an authority, lowercased, without port or trailing dot */
export function hostname(authority: string): string {
  const h = splitHostPort(authority.trim().toLowerCase()).host;
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

/** The port a URL names, or its scheme's default. */
export function urlPort(url: URL): number {
  return Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
}
