// Who may call the guarded admin endpoints (POSTs, GET /tap): the token, loopback when none is
// set, and never a page of another origin.
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { authorize } from '../../src/admin/auth.js';

const req = (remoteAddress: string, headers: Record<string, string> = {}) =>
  ({ socket: { remoteAddress }, headers: { host: '127.0.0.1:15090', ...headers } }) as unknown as IncomingMessage;

describe('admin authorization', () => {
  it('without a token: loopback yes, anything else 403', () => {
    expect(authorize(req('127.0.0.1'), undefined)).toBeUndefined();
    expect(authorize(req('::1'), undefined)).toBeUndefined();
    expect(authorize(req('::ffff:127.0.0.1'), undefined)).toBeUndefined();
    expect(authorize(req('10.0.0.7'), undefined)).toMatchObject({ status: 403 });
  });

  it('with a token: the right Bearer token from anywhere, else 401 with WWW-Authenticate', () => {
    expect(authorize(req('10.0.0.7', { authorization: 'Bearer s3cret' }), 's3cret')).toBeUndefined();
    expect(authorize(req('127.0.0.1'), 's3cret')).toMatchObject({ status: 401, headers: { 'www-authenticate': expect.stringMatching(/^Bearer/) } });
    expect(authorize(req('127.0.0.1', { authorization: 'Bearer nope' }), 's3cret')).toMatchObject({ status: 401 });
  });

  it('refuses calls from a page of another origin, even from loopback or with the token', () => {
    expect(authorize(req('127.0.0.1', { origin: 'https://evil.example' }), undefined)).toMatchObject({ status: 403 });
    expect(authorize(req('127.0.0.1', { origin: 'https://evil.example', authorization: 'Bearer s3cret' }), 's3cret')).toMatchObject({ status: 403 });
    expect(authorize(req('127.0.0.1', { origin: 'null' }), undefined)).toMatchObject({ status: 403 });
    expect(authorize(req('127.0.0.1', { origin: 'http://127.0.0.1:15090' }), undefined)).toBeUndefined();
  });

  it('believes Sec-Fetch-Site over Origin, so a proxy that rewrites Host (kubectl proxy) still works', () => {
    const proxied = { host: '10.1.2.3:15090', origin: 'http://localhost:8001' };
    expect(authorize(req('127.0.0.1', { ...proxied, 'sec-fetch-site': 'same-origin' }), undefined)).toBeUndefined();
    expect(authorize(req('127.0.0.1', { ...proxied, 'sec-fetch-site': 'cross-site' }), undefined)).toMatchObject({ status: 403 });
    expect(authorize(req('127.0.0.1', { ...proxied, 'sec-fetch-site': 'same-site' }), undefined)).toMatchObject({ status: 403 });
  });
});
