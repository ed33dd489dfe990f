// Who may change state through the admin port (drain, breaker control).
import { timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export interface Denial {
  status: number;
  code: string;
  message: string;
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

export function authorize(req: IncomingMessage, token: string | undefined): Denial | undefined {
  if (!token) {
    if (isLoopback(req.socket.remoteAddress)) return undefined;
    return {
      status: 403,
      code: 'forbidden',
      message: 'admin POST is only accepted from loopback unless admin.token is set',
    };
  }
  const header = req.headers.authorization ?? '';
  const presented = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
  if (presented && tokenMatches(presented, token)) return undefined;
  return { status: 401, code: 'unauthorized', message: 'missing or wrong admin token (Authorization: Bearer …)' };
}
