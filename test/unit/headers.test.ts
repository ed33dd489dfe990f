import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { forwardRequestHeaders, stripResponseHopByHop } from '../../src/proxy/headers.js';

function fakeRequest(rawHeaders: string[], remoteAddress = '10.1.2.3'): IncomingMessage {
  const headers: Record<string, string> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) headers[rawHeaders[i].toLowerCase()] = rawHeaders[i + 1];
  return { rawHeaders, headers, socket: { remoteAddress } } as unknown as IncomingMessage;
}

const asObject = (flat: string[]) => {
  const out: Record<string, string[]> = {};
  for (let i = 0; i < flat.length; i += 2) (out[flat[i]] ??= []).push(flat[i + 1]);
  return out;
};

const ingress = { host: undefined, setForwarded: true, http2: false };

describe('forwardRequestHeaders', () => {
  it('drops hop-by-hop headers and those named in Connection, case-insensitively', () => {
    const req = fakeRequest(['Host', 'shop', 'Connection', 'keep-alive, X-Secret', 'X-Secret', '1', 'TE', 'trailers', 'Keep-Alive', 'timeout=5', 'Proxy-Authorization', 'x', 'Accept', '*/*']);
    const out = asObject(forwardRequestHeaders(req, new Set(), ingress, []));
    expect(Object.keys(out).sort()).toEqual(['accept', 'host', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto']);
  });

  it('leaves owned headers to their layer and appends the extra ones', () => {
    const req = fakeRequest(['X-Request-ID', 'client', 'Host', 'shop']);
    const out = asObject(forwardRequestHeaders(req, new Set(['x-request-id']), { host: 'api.example', setForwarded: true, http2: false }, ['x-request-id', 'ours']));
    expect(out['x-request-id']).toEqual(['ours']);
    expect(out.host).toEqual(['api.example']);
    expect(out['x-forwarded-host']).toEqual(['shop']);
  });

  it('adds no X-Forwarded-* for an egress target and passes the app\'s own through', () => {
    const req = fakeRequest(['Host', 'api.stripe.com', 'X-Forwarded-Proto', 'https', 'Connection', 'close']);
    const out = asObject(forwardRequestHeaders(req, new Set(), { host: 'api.stripe.com', setForwarded: false, http2: false }, []));
    expect(out).toEqual({ host: ['api.stripe.com'], 'x-forwarded-proto': ['https'] });
  });

  it('joins repeated X-Forwarded-For values and appends the peer', () => {
    const req = fakeRequest(['X-Forwarded-For', '1.1.1.1', 'X-Forwarded-For', '2.2.2.2']);
    const out = asObject(forwardRequestHeaders(req, new Set(), ingress, []));
    expect(out['x-forwarded-for']).toEqual(['1.1.1.1, 2.2.2.2, 10.1.2.3']);
    expect(out['x-forwarded-proto']).toEqual(['http']);
  });
});

describe('stripResponseHopByHop', () => {
  it('removes hop-by-hop response headers and those named in Connection', () => {
    const headers = stripResponseHopByHop({ connection: 'keep-alive, x-hop', 'x-hop': 'a', 'keep-alive': 'timeout=5', 'transfer-encoding': 'chunked', 'content-type': 'text/plain' });
    expect(headers).toEqual({ 'content-type': 'text/plain' });
  });
});
