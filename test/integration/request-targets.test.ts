// Request-target forms other than a plain path (RFC 9112 §3.2), sent as raw request lines the
// way a scanner or a misconfigured client sends them: asterisk-form, absolute-form,
// authority-form (CONNECT). None of them may become an upstream error, a hung or silently
// closed socket, or reach the app in a form it did not expect.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metric } from '../helpers/egress.js';
import { startFakeApi, type FakeApi } from '../helpers/fake-api.js';
import { rawRequest } from '../helpers/raw-http.js';
import { startSidelight, type RunningSidelight } from '../helpers/sidelight.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

let app: TestApp;
let api: FakeApi;
let sl: RunningSidelight;

beforeAll(async () => {
  app = await startTestApp();
  api = await startFakeApi();
  sl = await startSidelight({
    config: {
      ingress: { app: app.url },
      egress: { upstreams: { stripe: { url: api.url, ca: api.caFile, hosts: ['api.stripe.com'], listen: '127.0.0.1:0', retry: { attempts: 0 } } } },
    },
  });
});
afterAll(async () => {
  await sl?.stop();
  await app?.close();
  await api?.close();
});

const json = (body: string) => JSON.parse(body) as Record<string, unknown>;
const accessLine = (requestId: string) => sl.waitForLog((l) => l.msg === 'request' && l.requestId === requestId);
const ingressErrors = (type: string) => metric(sl.admin, `http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="502",http_route="",error_type="${type}"}`);

describe('asterisk-form on ingress', () => {
  it('OPTIONS * reaches the app as OPTIONS *, with a request id, in the log and the metrics', async () => {
    const before = app.received.length;
    const res = await rawRequest(sl.ingress, 'OPTIONS * HTTP/1.1\r\nHost: shop.example\r\nX-Request-ID: star-1\r\nConnection: close\r\n\r\n');
    expect(res.status).toBe(200);
    expect(res.head).toMatch(/x-request-id: star-1/i);
    const seen = app.received.slice(before);
    expect(seen.map((r) => `${r.method} ${r.url}`)).toEqual(['OPTIONS *']);
    expect(seen[0].headers['x-request-id']).toBe('star-1');
    expect(await accessLine('star-1')).toMatchObject({ method: 'OPTIONS', path: '*', status: 200, upstream: 'app' });
    expect(
      await metric(sl.admin, 'http_server_request_duration_seconds_count{http_request_method="OPTIONS",http_response_status_code="200",http_route="",error_type=""}'),
    ).toBe(1);
  });

  it('any other method with "*" is a 400 bad_request, never an upstream error, and the app is not called', async () => {
    const before = app.received.length;
    for (const method of ['GET', 'POST', 'DELETE']) {
      const res = await rawRequest(sl.ingress, `${method} * HTTP/1.1\r\nHost: x\r\nX-Request-ID: star-${method}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      expect(res.status).toBe(400);
      expect(json(res.body)).toMatchObject({ error: 'bad_request', requestId: `star-${method}` });
    }
    expect(app.received.length).toBe(before);
    expect(await ingressErrors('connection_error')).toBe(0);
  });

  it('an authority-form or other non-path target on a GET is a 400, not a 502', async () => {
    const res = await rawRequest(sl.ingress, 'GET example.com:443 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(res.status).toBe(400);
    expect(json(res.body)).toMatchObject({ error: 'bad_request' });
    expect(await ingressErrors('connection_error')).toBe(0);
  });
});

describe('absolute-form on ingress', () => {
  it('the app receives the origin-form path and the URL authority as Host; the log shows the path', async () => {
    const before = app.received.length;
    const res = await rawRequest(
      sl.ingress,
      'GET http://169.254.169.254/latest/meta-data?x=1 HTTP/1.1\r\nHost: shop.example\r\nX-Request-ID: abs-1\r\nConnection: close\r\n\r\n',
    );
    expect(res.status).toBe(200);
    const seen = app.received.slice(before);
    expect(seen.map((r) => r.url)).toEqual(['/latest/meta-data?x=1']);
    expect(seen[0].headers.host).toBe('169.254.169.254');
    expect(await accessLine('abs-1')).toMatchObject({ path: '/latest/meta-data', status: 200 });
  });

  it('an absolute URL with an empty path is "/" (and "*" for OPTIONS); other schemes are a 400', async () => {
    const before = app.received.length;
    expect((await rawRequest(sl.ingress, 'GET http://shop.example HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).status).toBe(200);
    expect((await rawRequest(sl.ingress, 'OPTIONS http://shop.example:8080 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).status).toBe(200);
    expect(app.received.slice(before).map((r) => `${r.method} ${r.url} ${r.headers.host}`)).toEqual(['GET / shop.example', 'OPTIONS * shop.example:8080']);
    const ftp = await rawRequest(sl.ingress, 'GET ftp://shop.example/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(ftp.status).toBe(400);
  });
});

describe('request targets on egress', () => {
  it('a dedicated listener sends the origin-form path of an absolute-form request upstream', async () => {
    const before = api.requests.length;
    const res = await rawRequest(sl.url['egress:stripe'], 'GET http://api.stripe.com/v1/charges?limit=3 HTTP/1.1\r\nHost: api.stripe.com\r\nConnection: close\r\n\r\n');
    expect(res.status).toBe(200);
    expect(api.requests.slice(before).map((r) => r.url)).toEqual(['/v1/charges?limit=3']);
  });

  it('"*" on the shared and the dedicated egress listener is a 400, never an upstream error', async () => {
    for (const url of [sl.egress, sl.url['egress:stripe']]) {
      const res = await rawRequest(url, 'OPTIONS * HTTP/1.1\r\nHost: api.stripe.com\r\nConnection: close\r\n\r\n');
      expect(res.status).toBe(400);
      expect(json(res.body)).toMatchObject({ error: 'bad_request' });
    }
  });

  it('absolute-form on the shared listener still routes by the URL (HTTP_PROXY clients)', async () => {
    const before = api.requests.length;
    const res = await rawRequest(sl.egress, 'GET http://api.stripe.com/v1/balance HTTP/1.1\r\nHost: api.stripe.com\r\nX-Request-ID: proxy-1\r\nConnection: close\r\n\r\n');
    expect(res.status).toBe(200);
    expect(api.requests.slice(before).map((r) => r.url)).toEqual(['/v1/balance']);
    expect(await accessLine('proxy-1')).toMatchObject({ listener: 'egress', path: '/v1/balance', upstream: 'stripe' });
  });
});

describe('CONNECT', () => {
  it('ingress answers a JSON 405 that says what to do, with a request id, and logs it', async () => {
    const res = await rawRequest(sl.ingress, 'CONNECT api.stripe.com:443 HTTP/1.1\r\nHost: api.stripe.com:443\r\nX-Request-ID: tunnel-1\r\n\r\n');
    expect(res.status).toBe(405);
    expect(res.head).toMatch(/x-request-id: tunnel-1/i);
    expect(res.head).toMatch(/^allow: /im);
    const body = json(res.body);
    expect(body).toMatchObject({ error: 'method_not_allowed', requestId: 'tunnel-1' });
    expect(String(body.message)).toMatch(/ingress/);
    expect(await accessLine('tunnel-1')).toMatchObject({ method: 'CONNECT', status: 405, error: 'method_not_allowed' });
  });

  it('egress answers a CONNECT to a host no upstream names with a JSON 403 (tunnels: test/integration/egress-tunnels*.test.ts)', async () => {
    for (const url of [sl.egress, sl.url['egress:stripe']]) {
      const res = await rawRequest(url, 'CONNECT evil.example.com:443 HTTP/1.1\r\nHost: evil.example.com:443\r\n\r\n');
      expect(res.status).toBe(403);
      expect(json(res.body)).toMatchObject({ error: 'upstream_not_allowed' });
    }
  });
});
