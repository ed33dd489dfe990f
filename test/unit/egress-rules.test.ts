// The pure rules behind egress resilience: backoff bounds, the retry budget window, what may be
// retried, dot-segment detection, and who may POST to the admin port.
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { authorize, tokenMatches } from '../../src/admin/auth.js';
import { backoffDelay } from '../../src/egress/backoff.js';
import { RetryBudget } from '../../src/egress/retry-budget.js';
import { hasDotSegment } from '../../src/egress/router.js';
import { retryableError } from '../../src/egress/dispatch/retry.js';
import { retryableMethod } from '../../src/proxy/idempotency.js';
import { ClientAbortedError, LocalFailure, UpstreamTimeoutError } from '../../src/errors.js';

describe('backoffDelay (full jitter)', () => {
  it('stays within [0, min(maxBackoff, backoff × 2^(n-1))]', () => {
    const nearlyOne = () => 0.999999;
    expect(backoffDelay(1, 100, 2000, nearlyOne)).toBe(99);
    expect(backoffDelay(2, 100, 2000, nearlyOne)).toBe(199);
    expect(backoffDelay(3, 100, 2000, nearlyOne)).toBe(399);
    expect(backoffDelay(10, 100, 2000, nearlyOne)).toBe(1999); // capped
    expect(backoffDelay(5, 100, 2000, () => 0)).toBe(0);
    for (let n = 1; n <= 12; n++) {
      for (let i = 0; i < 200; i++) {
        const d = backoffDelay(n, 100, 2000);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(Math.min(2000, 100 * 2 ** (n - 1)));
      }
    }
  });
});

describe('RetryBudget', () => {
  it('allows the floor plus percent of requests, over a rolling window', () => {
    let now = 0;
    const budget = new RetryBudget(20, 2, 10_000, () => now);
    for (let i = 0; i < 10; i++) budget.recordRequest();
    const granted = Array.from({ length: 10 }, () => budget.tryAcquire()).filter(Boolean).length;
    expect(granted).toBe(4); // 2 + 20 % of 10
    // after the window has passed, old requests and retries no longer count
    now += 11_000;
    expect(budget.snapshot()).toEqual({ requests: 0, retries: 0 });
    expect(budget.tryAcquire()).toBe(true);
    expect(budget.tryAcquire()).toBe(true);
    expect(budget.tryAcquire()).toBe(false);
  });

  it('forgets bucket by bucket as the window slides', () => {
    let now = 0;
    const budget = new RetryBudget(100, 0, 1000, () => now);
    budget.recordRequest();
    now = 500;
    budget.recordRequest();
    expect(budget.snapshot().requests).toBe(2);
    now = 1050; // the first bucket (0–100 ms) has left the window
    expect(budget.snapshot().requests).toBe(1);
  });
});

describe('what may be retried', () => {
  it('idempotent methods, and POST/PATCH only with an Idempotency-Key', () => {
    for (const m of ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']) expect(retryableMethod(m, [])).toBe(true);
    expect(retryableMethod('POST', ['content-type', 'application/json'])).toBe(false);
    expect(retryableMethod('PATCH', [])).toBe(false);
    expect(retryableMethod('POST', ['idempotency-key', 'k1'])).toBe(true);
    expect(retryableMethod('PATCH', ['Idempotency-Key', 'k1'])).toBe(true);
    expect(retryableMethod('CONNECT', ['idempotency-key', 'k1'])).toBe(false);
  });

  it('transport errors before a response: refused, connect timeout, resets; not timeouts or local refusals', () => {
    const err = (code: string) => Object.assign(new Error(code), { code });
    expect(retryableError(err('ECONNREFUSED'))).toBe('connection_refused');
    expect(retryableError(err('UND_ERR_CONNECT_TIMEOUT'))).toBe('connect_timeout');
    expect(retryableError(err('ECONNRESET'))).toBe('connection_reset');
    expect(retryableError(err('UND_ERR_SOCKET'))).toBe('connection_reset');
    expect(retryableError(Object.assign(new Error('x'), { cause: { code: 'ECONNRESET' } }))).toBe('connection_reset');
    expect(retryableError(err('UND_ERR_HEADERS_TIMEOUT'))).toBeUndefined();
    expect(retryableError(err('DEPTH_ZERO_SELF_SIGNED_CERT'))).toBeUndefined();
    expect(retryableError(new UpstreamTimeoutError())).toBeUndefined();
    expect(retryableError(new ClientAbortedError())).toBeUndefined();
    expect(retryableError(new LocalFailure({ status: 503, code: 'circuit_open', errorType: 'circuit_open', message: '' }))).toBeUndefined();
  });
});

describe('hasDotSegment', () => {
  it('finds dot-segments however they are spelled', () => {
    for (const p of ['/..', '/../x', '/a/./b', '/stripe/%2e%2e/x', '/stripe/..%2Fx', '/a%2F..%2Fb', '/a\\..\\b', '/.%2E/x', '/a/%2E']) {
      expect({ p, dot: hasDotSegment(p) }).toEqual({ p, dot: true });
    }
    for (const p of ['/', '/v1/charges', '/a..b/c', '/...', '/.well-known/x', '/v1/files/a.b']) {
      expect({ p, dot: hasDotSegment(p) }).toEqual({ p, dot: false });
    }
  });
});

describe('admin POST authorization', () => {
  const req = (remoteAddress: string, authorization?: string) =>
    ({ socket: { remoteAddress }, headers: authorization ? { authorization } : {} }) as unknown as IncomingMessage;

  it('without a token: loopback only', () => {
    expect(authorize(req('127.0.0.1'), undefined)).toBeUndefined();
    expect(authorize(req('::1'), undefined)).toBeUndefined();
    expect(authorize(req('::ffff:127.0.0.1'), undefined)).toBeUndefined();
    expect(authorize(req('10.0.0.7'), undefined)?.status).toBe(403);
    expect(authorize(req('::ffff:10.0.0.7'), undefined)?.status).toBe(403);
  });

  it('with a token: the right Bearer token from anywhere, else 401', () => {
    expect(authorize(req('10.0.0.7', 'Bearer s3cret'), 's3cret')).toBeUndefined();
    expect(authorize(req('127.0.0.1'), 's3cret')?.status).toBe(401);
    expect(authorize(req('10.0.0.7', 'Bearer wrong'), 's3cret')?.status).toBe(401);
    expect(authorize(req('10.0.0.7', 's3cret'), 's3cret')?.status).toBe(401);
  });

  it('compares digests of equal length, so mismatched lengths do not throw or short-circuit', () => {
    expect(tokenMatches('a', 'a-much-longer-token')).toBe(false);
    expect(tokenMatches('same', 'same')).toBe(true);
  });
});
