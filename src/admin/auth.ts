// Who may change state through the admin port (drain, breaker control) or watch its traffic (tap).
import { timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export interface Denial {
  status: number;
  code: string;
  message: string;
  headers?: Record<string, string>;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;

export function isLoopback(address: string | undefined): boolean {
  return address !== undefined && LOOPBACK.test(address);
}

/** Hashing both sides first gives equal lengths, so the compare's time says nothing about the token. */
export function tokenMatches(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * A call a browser makes for a page of another site means a page elsewhere is using the
 * browser of someone who can reach the admin port (say, through a port-forward to loopback) to
 * drain the pod or open a breaker: refused, whatever the network address says. Browsers say so
 * in Sec-Fetch-Site, which survives proxies that rewrite Host (kubectl proxy); older ones send
 * Origin with every POST, compared with Host.
 */
function crossSite(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined) return site !== 'same-origin' && site !== 'none';
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  try {
    return new URL(origin).host !== req.headers.host;
  } catch {
    return true;
  }
}

export function authorize(req: IncomingMessage, token: string | undefined): Denial | undefined {
  if (crossSite(req)) {
    return { status: 403, code: 'forbidden', message: 'admin calls from a page of another origin are refused' };
  }
  if (!token) {
    if (isLoopback(req.socket.remoteAddress)) return undefined;
    return {
      status: 403,
      code: 'forbidden',
      message: 'this admin call is only accepted from loopback unless admin.token is set',
    };
  }
  const header = req.headers.authorization ?? '';
  const presented = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
  if (presented && tokenMatches(presented, token)) return undefined;
  return {
    status: 401,
    code: 'unauthorized',
    message: 'missing or wrong admin token (Authorization: Bearer …)',
    headers: { 'www-authenticate': 'Bearer realm="sidelight admin"' },
  };
}
