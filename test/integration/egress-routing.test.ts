// Egress routing in the design's order, TLS origination, and the never-an-open-proxy rule,
// through the built CLI and a local HTTPS fake API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCerts, startFakeApi, type FakeApi } from '../helpers/fake-api.js';
import { send, until } from '../helpers/http.js';
import { rawRequest } from '../helpers/raw-http.js';
import { runCli, startSidelight, writeConfig, type RunningSidelight } from '../helpers/sidelight.js';

describe('egress routing and TLS', () => {
  let stripe: FakeApi;
  let twilio: FakeApi;
  let untrusted: FakeApi;
  let sl: RunningSidelight;

  beforeAll(async () => {
    const certs = await makeCerts();
    stripe = await startFakeApi({ certs });
    twilio = await startFakeApi({ certs });
    untrusted = await startFakeApi(); // its own CA, which sidelight is not told about
    sl = await startSidelight({
      config: {
        egress: {
          upstreams: {
            stripe: { url: stripe.url, hosts: ['api.stripe.com'], ca: stripe.caFile, listen: '127.0.0.1:0', retry: { attempts: 0 } },
            twilio: { url: twilio.url, hosts: ['api.twilio.com'], ca: twilio.caFile, retry: { attempts: 0 } },
            untrusted: { url: untrusted.url, retry: { attempts: 0 } },
          },
        },
      },
    });
  });
  afterAll(async () => {
    await sl?.stop();
    await Promise.all([stripe?.close(), twilio?.close(), untrusted?.close()]);
  });

  const last = (api: FakeApi) => api.requests[api.requests.length - 1];

  it('1. a dedicated listener sends everything to its upstream, over verified TLS with the upstream host', async () => {
    expect(sl.url['egress:stripe']).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await send(`${sl.url['egress:stripe']}/v1/charges?limit=3`, { headers: { 'x-request-id': 'req-dedicated-1' } });
    expect(res.status).toBe(200);
    expect(res.headers['x-request-id']).toBe('req-dedicated-1');
    const got = last(stripe);
    expect(got.url).toBe('/v1/charges?limit=3');
    expect(got.headers.host).toBe(`localhost:${stripe.port}`);
    expect(got.headers['x-request-id']).toBe('req-dedicated-1');
    // The pod's addresses are nobody's business at Stripe: no X-Forwarded-* added on egress.
    expect(Object.keys(got.headers).filter((h) => h.startsWith('x-forwarded-'))).toEqual([]);
  });

  it('2. the Host header picks the upstream on the shared port', async () => {
    const res = await send(`${sl.egress}/v1/customers`, { headers: { host: 'api.stripe.com' } });
    expect(res.status).toBe(200);
    expect(last(stripe).url).toBe('/v1/customers');
    expect(last(stripe).headers.host).toBe(`localhost:${stripe.port}`);
  });

  it('2. an HTTP_PROXY client\'s absolute-form request line picks the upstream', async () => {
    const res = await rawRequest(sl.egress, 'GET http://api.twilio.com/2010-04-01/Accounts.json?a=1 HTTP/1.1\r\nHost: api.twilio.com\r\nConnection: close\r\n\r\n');
    expect(res.status).toBe(200);
    expect(last(twilio).url).toBe('/2010-04-01/Accounts.json?a=1');
  });

  it('3. a /NAME/ prefix on the shared port routes and is stripped', async () => {
    expect((await send(`${sl.egress}/twilio/2010-04-01/Messages.json?x=1`)).status).toBe(200);
    expect(last(twilio).url).toBe('/2010-04-01/Messages.json?x=1');
    expect((await send(`${sl.egress}/twilio`)).status).toBe(200);
    expect(last(twilio).url).toBe('/');
    expect((await send(`${sl.egress}/twilio?y=2`)).status).toBe(200);
    expect(last(twilio).url).toBe('/?y=2');
  });

  it('the Host header wins over a prefix (first match in the design order)', async () => {
    const before = twilio.requests.length;
    expect((await send(`${sl.egress}/twilio/x`, { headers: { host: 'api.stripe.com' } })).status).toBe(200);
    expect(last(stripe).url).toBe('/twilio/x');
    expect(twilio.requests.length).toBe(before);
  });

  it('is never an open proxy: every attempt is 404 or 400 and no upstream sees a request', async () => {
    const before = stripe.requests.length + twilio.requests.length + untrusted.requests.length;
    const attempts: Array<[string, number]> = [
      ['GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\n', 404],
      ['GET http://evil/ HTTP/1.1\r\nHost: evil\r\n', 404],
      ['GET http://169.254.169.254/latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\n', 404],
      ['GET http://evil.com/stripe/v1/charges HTTP/1.1\r\nHost: api.stripe.com\r\n', 404],
      ['GET https://api.stripe.com/v1/charges HTTP/1.1\r\nHost: api.stripe.com\r\n', 400],
      ['GET http://user:pw@api.stripe.com/v1 HTTP/1.1\r\nHost: api.stripe.com\r\n', 400],
      ['GET //evil.com/x HTTP/1.1\r\nHost: localhost\r\n', 404],
      ['GET /../etc/passwd HTTP/1.1\r\nHost: localhost\r\n', 400],
      ['GET /stripe/../twilio/x HTTP/1.1\r\nHost: localhost\r\n', 400],
      ['GET /stripe/..%2Ftwilio/x HTTP/1.1\r\nHost: localhost\r\n', 400],
      ['GET /stripe/%2e%2e/twilio/x HTTP/1.1\r\nHost: localhost\r\n', 400],
      ['GET /stripe%2F..%2Ftwilio/x HTTP/1.1\r\nHost: localhost\r\n', 400],
      ['GET /%2F%2Fevil.com/x HTTP/1.1\r\nHost: localhost\r\n', 404],
      ['GET /stripex/v1 HTTP/1.1\r\nHost: localhost\r\n', 404],
      ['GET /evil.com/x HTTP/1.1\r\nHost: evil.com\r\n', 404],
      ['OPTIONS * HTTP/1.1\r\nHost: localhost\r\n', 400],
      ['GET http://api.stripe.com/../twilio/x HTTP/1.1\r\nHost: api.stripe.com\r\n', 400],
    ];
    for (const [head, status] of attempts) {
      const res = await rawRequest(sl.egress, `${head}Connection: close\r\n\r\n`);
      expect({ head, status: res.status }).toEqual({ head, status });
      const body = JSON.parse(res.body) as { error: string; upstreams?: string[] };
      expect(body.error).toBe(status === 404 ? 'unknown_upstream' : 'bad_request');
      if (status === 404) expect(body.upstreams).toEqual(['stripe', 'twilio', 'untrusted']);
    }
    // CONNECT would be a tunnel to anywhere: it is never accepted.
    const connect = await rawRequest(sl.egress, 'CONNECT evil.com:443 HTTP/1.1\r\nHost: evil.com:443\r\n\r\n');
    expect(connect.status).not.toBe(200);
    expect(stripe.requests.length + twilio.requests.length + untrusted.requests.length).toBe(before);
  });

  it('a certificate that does not verify is a 502 upstream_tls_error, never a downgrade', async () => {
    const res = await send(`${sl.egress}/untrusted/v1/x`);
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'upstream_tls_error', upstream: 'untrusted' });
    expect(untrusted.requests.length).toBe(0);
  });

  it('secrets the app sends never show in error bodies or logs', async () => {
    const secret = 'sk_test_very_secret_4242';
    const res = await send(`${sl.egress}/nowhere/v1`, { headers: { authorization: `Bearer ${secret}` } });
    expect(res.status).toBe(404);
    expect(res.body).not.toContain(secret);
    await send(`${sl.egress}/stripe/v1/charges`, { headers: { authorization: `Bearer ${secret}` } });
    await until(() => sl.logs.some((l) => l.msg === 'request' && l.status === 404), 5_000, 'access log line');
    expect(JSON.stringify(sl.logs)).not.toContain(secret);
    const config = await send(`${sl.admin}/config`);
    expect(config.body).not.toContain('BEGIN CERTIFICATE');
  });

  it('GET /health has an upstreams section with breaker state and pool stats', async () => {
    const res = await send(`${sl.admin}/health`);
    const body = JSON.parse(res.body) as { upstreams: Record<string, { breaker: string; pool: Record<string, number> }> };
    expect(Object.keys(body.upstreams)).toEqual(['stripe', 'twilio', 'untrusted']);
    expect(body.upstreams.stripe.breaker).toBe('closed');
    expect(body.upstreams.stripe.pool).toMatchObject({ connected: expect.any(Number), free: expect.any(Number), queued: 0, running: 0 });
    expect(body.upstreams.stripe.pool.connected).toBeGreaterThanOrEqual(1); // keep-alive from the earlier tests
  });
});

describe('egress config at the edge', () => {
  it('a ca file that cannot be read is a config error naming the key (exit 2)', async () => {
    const file = writeConfig({ egress: { upstreams: { stripe: { url: 'https://localhost:1', ca: '/nonexistent/ca.pem' } } } });
    const run = await runCli(['run', '--config', file, '--ingress', '127.0.0.1:0', '--egress', '127.0.0.1:0', '--admin', '127.0.0.1:0']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('egress.upstreams.stripe.ca');
    expect(run.stderr).not.toMatch(/\n\s+at /);
    const check = await runCli(['check', '--config', file]);
    expect(check.code).toBe(2);
    expect(check.stderr).toContain('egress.upstreams.stripe.ca');
  });
});

describe('egress during the drain', () => {
  it('keeps serving the app until exit: in-flight and new egress calls succeed after SIGTERM', async () => {
    const api = await startFakeApi();
    const sl = await startSidelight({
      config: {
        drain: { delay: '1500ms', timeout: '10s' },
        egress: { upstreams: { stripe: { url: api.url, ca: api.caFile } } },
      },
    });
    try {
      api.set({ kind: 'slow', ms: 600 });
      const inflight = send(`${sl.egress}/stripe/v1/slow`);
      await until(() => api.requests.length === 1, 5_000, 'the slow call to arrive');
      sl.proc.kill('SIGTERM');
      await sl.waitForLog((l) => l.msg === 'drain started');
      api.set({ kind: 'answer' });
      const during = await send(`${sl.egress}/stripe/v1/during-drain`);
      expect(during.status).toBe(200);
      expect((await inflight).status).toBe(200);
      expect(await sl.exited).toBe(0);
    } finally {
      await sl.stop();
      await api.close();
    }
  });
});
