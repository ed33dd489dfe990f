// The token bucket on a pinned clock (burst, refill, reservations within maxWait, a hold), the
// ingress limit's per-key state staying bounded under random keys, and Retry-After parsing.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { retryAfterSeconds, TokenBucket } from '../../src/proxy/token-bucket.js';
import { KeyedLimit, MAX_KEYS } from '../../src/layers/rate-limit.js';
import { Exchange } from '../../src/proxy/exchange.js';
import { parseRetryAfter } from '../../src/net/retry-after.js';

describe('TokenBucket', () => {
  it('gives `burst` at once, then one per 1/rps seconds', () => {
    const b = new TokenBucket(10, 3, 0, 0);
    expect([b.take(0), b.take(0), b.take(0), b.take(0)]).toEqual([0, 0, 0, -1]);
    expect(b.waitFor(0)).toBeCloseTo(100);
    expect(b.take(100)).toBe(0);
    expect(b.take(100)).toBe(-1);
    // a long quiet refills to burst, never beyond
    expect(b.available(60_000)).toBe(3);
  });

  it('reserves tokens within maxWait: each caller waits one interval longer than the one before', () => {
    const b = new TokenBucket(10, 1, 250, 0);
    expect([b.take(0), b.take(0), b.take(0)].map(Math.round)).toEqual([0, 100, 200]);
    expect(b.take(0)).toBe(-1);
    expect(b.available(0)).toBeCloseTo(-2);
  });

  it('a hold gives no token before its end, then one, then the rate', () => {
    const b = new TokenBucket(10, 5, 10_000, 0);
    b.hold(0, 2_000);
    expect(Math.round(b.take(0))).toBe(2_000);
    expect(Math.round(b.take(0))).toBe(2_100);
    expect(retryAfterSeconds(2_100)).toBe('3');
    expect(retryAfterSeconds(0)).toBe('1');
  });
});

function exchangeWith(headers: Record<string, string>, remoteAddress = '10.0.0.1'): Exchange {
  const req = { method: 'GET', url: '/', headers, socket: { remoteAddress } } as unknown as IncomingMessage;
  return new Exchange(req, {} as ServerResponse, 'ingress');
}

describe('KeyedLimit', () => {
  it('keeps at most MAX_KEYS keys under random client addresses, forgetting the least recently seen and counting them', () => {
    const limit = new KeyedLimit('ingress.rateLimit', { rps: 1, burst: 1, key: 'client' });
    const hot = exchangeWith({}, '10.9.9.9');
    expect(limit.take(hot, 0)).toBe(0);
    for (let i = 0; i < MAX_KEYS + 500; i++) {
      limit.take(exchangeWith({}, `fd00::${i.toString(16)}`), 0);
      // the hot key is seen again and again: it is never the one forgotten, so it stays refused
      if (i % 1000 === 0) expect(limit.take(hot, 0)).toBeGreaterThan(0);
    }
    expect(limit.keys).toBe(MAX_KEYS);
    expect(limit.evicted).toBe(501);
  });

  it('stays bounded under random header values too', () => {
    const limit = new KeyedLimit('/login', { rps: 1, burst: 1, key: 'header:x-api-key' });
    for (let i = 0; i < MAX_KEYS * 2; i++) limit.take(exchangeWith({ 'x-api-key': Math.random().toString(36) }), 0);
    expect(limit.keys).toBe(MAX_KEYS);
    expect(limit.evicted).toBeGreaterThan(MAX_KEYS / 2);
  });

  it('shares one bucket among requests without the header, and none for key "none"', () => {
    const limit = new KeyedLimit('/login', { rps: 1, burst: 2, key: 'header:x-api-key' });
    expect([limit.take(exchangeWith({}), 0), limit.take(exchangeWith({}), 0), limit.take(exchangeWith({}), 0) > 0]).toEqual([0, 0, true]);
    const all = new KeyedLimit('ingress.rateLimit', { rps: 1, burst: 1, key: 'none' });
    all.take(exchangeWith({ 'x-api-key': 'a' }), 0);
    expect(all.keys).toBe(1);
    expect(all.sharedTokens(0)).toBe(0);
  });
});

describe('parseRetryAfter', () => {
  it('reads delay-seconds and an HTTP-date; anything else is -1', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter(['3', '9'])).toBe(3000);
    const inTen = new Date(Date.now() + 10_000).toUTCString();
    expect(parseRetryAfter(inTen)).toBeGreaterThan(8_000);
    expect(parseRetryAfter(undefined)).toBe(-1);
    expect(parseRetryAfter('soon')).toBe(-1);
    expect(parseRetryAfter('-1')).toBe(-1);
  });
});
