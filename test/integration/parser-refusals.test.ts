// Requests Node's HTTP parser refuses before sidelight sees a request (431 for a header section
// past limits.maxHeaderBytes, 400 for a bad header line, an unknown HTTP version, no HTTP
// version at all) are exchanges like any other: the JSON error body, an access log line, the
// ingress duration histogram, the egress rejection counter.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest } from '../helpers/raw-http.js';
import { scrapeUntil, value } from '../helpers/prometheus.js';
import { startSidelight, type RunningSidelight } from '../helpers/sidelight.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { UUID } from '../helpers/http.js';

let app: TestApp;
let sl: RunningSidelight;

beforeAll(async () => {
  app = await startTestApp();
  sl = await startSidelight({
    config: {
      ingress: { app: app.url, routes: ['/refused/:kind'] },
      egress: { upstreams: { backend: { url: app.url } } },
      limits: { maxHeaderBytes: 4096 },
    },
  });
});
afterAll(async () => {
  await sl?.stop();
  await app?.close();
});

const REFUSED = [
  { name: 'headers past maxHeaderBytes', text: `GET /refused/big HTTP/1.1\r\nHost: x\r\nx-big: ${'a'.repeat(6000)}\r\n\r\n`, status: 431, error: 'headers_too_large', path: '/refused/big' },
  { name: 'a header line without a colon', text: 'GET /refused/line HTTP/1.1\r\nHost: x\r\nnot a header\r\n\r\n', status: 400, error: 'bad_request', path: '/refused/line' },
  { name: 'HTTP/9.9', text: 'GET /refused/version HTTP/9.9\r\nHost: x\r\n\r\n', status: 400, error: 'bad_request', path: '/refused/version' },
  { name: 'a request line without a version', text: 'GET foo\r\n\r\n', status: 400, error: 'bad_request', path: 'foo' },
];

describe('requests the parser refuses', () => {
  it.each(REFUSED)('ingress, $name: the JSON answer, an access log line with its request id, and the app not called', async ({ text, status, error, path }) => {
    const before = app.received.length;
    const res = await rawRequest(sl.ingress, text);
    expect(res.status).toBe(status);
    const body = JSON.parse(res.body) as { error: string; requestId: string };
    expect(body).toMatchObject({ error, requestId: expect.stringMatching(UUID) });
    expect(res.head.toLowerCase()).toContain(`x-request-id: ${body.requestId}`);
    const line = await sl.waitForLog((l) => l.msg === 'request' && l.requestId === body.requestId);
    expect(line).toMatchObject({ listener: 'ingress', method: 'GET', path, status, error });
    expect(app.received.length).toBe(before);
  });

  it('ingress: each is an observation of http_server_request_duration_seconds with its status and error type', async () => {
    const count = (status: string, errorType: string, route: string) =>
      (s: Parameters<typeof value>[0]) =>
        value(s, 'http_server_request_duration_seconds_count', { http_request_method: 'GET', http_response_status_code: status, error_type: errorType, http_route: route });
    const scraped = await scrapeUntil(sl.admin, (s) => count('431', 'headers_too_large', '/refused/:kind')(s) >= 1, 'the 431 observed');
    expect(count('431', 'headers_too_large', '/refused/:kind')(scraped.samples)).toBe(1);
    expect(count('400', 'bad_request', '/refused/:kind')(scraped.samples)).toBe(2);
    expect(count('400', 'bad_request', '')(scraped.samples)).toBe(1);
  });

  it('egress: a refused request is logged and counted in sidelight_egress_rejections_total', async () => {
    const res = await rawRequest(sl.egress, 'GET /backend/x HTTP/9.9\r\nHost: x\r\n\r\n');
    expect(res.status).toBe(400);
    const { requestId } = JSON.parse(res.body) as { requestId: string };
    const line = await sl.waitForLog((l) => l.msg === 'request' && l.requestId === requestId);
    expect(line).toMatchObject({ listener: 'egress', method: 'GET', path: '/backend/x', status: 400, error: 'bad_request' });
    const rejections = { listener: 'egress', reason: 'bad_request' };
    const scraped = await scrapeUntil(sl.admin, (s) => value(s, 'sidelight_egress_rejections_total', rejections) >= 1, 'the egress rejection counted');
    expect(value(scraped.samples, 'sidelight_egress_rejections_total', rejections)).toBe(1);
  });

  it('bytes that are not HTTP at all: 400, logged with the method "_OTHER" and no path', async () => {
    const res = await rawRequest(sl.ingress, '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03');
    expect(res.status).toBe(400);
    const { requestId } = JSON.parse(res.body) as { requestId: string };
    const line = await sl.waitForLog((l) => l.msg === 'request' && l.requestId === requestId);
    expect(line).toMatchObject({ method: '_OTHER', path: '', status: 400, error: 'bad_request' });
  });
});
