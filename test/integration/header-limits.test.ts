// Many headers, both ways: every header under limits.maxHeaderBytes reaches the other side, and
// past the limit the answer says so (431 from the client's side, 502 with its own code from
// the app's). Never a silent truncation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest } from '../helpers/raw-http.js';
import { startSidelight, type RunningSidelight } from '../helpers/sidelight.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

let app: TestApp;
let sl: RunningSidelight;

beforeAll(async () => {
  app = await startTestApp();
  sl = await startSidelight({ config: { ingress: { app: app.url }, limits: { maxHeaderBytes: 32768 } } });
});
afterAll(async () => {
  await sl?.stop();
  await app?.close();
});

/** n small headers, "x-h-<i>: v" */
const manyHeaders = (n: number) => Array.from({ length: n }, (_, i) => `x-h-${i}: v\r\n`).join('');
const countExtra = (head: string) => head.split('\r\n').filter((l) => /^x-h-\d+:/i.test(l)).length;

describe('request headers', () => {
  it('2100 small headers under maxHeaderBytes all reach the app', async () => {
    const before = app.received.length;
    const res = await rawRequest(sl.ingress, `GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${manyHeaders(2100)}\r\n`);
    expect(res.status).toBe(200);
    const seen = app.received[before];
    expect(seen.rawHeaders.filter((_, i) => i % 2 === 0 && /^x-h-\d+$/.test(seen.rawHeaders[i])).length).toBe(2100);
  });

  it('headers over maxHeaderBytes are a 431, and the app is not called', async () => {
    const before = app.received.length;
    const res = await rawRequest(sl.ingress, `GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${manyHeaders(5000)}\r\n`);
    expect(res.status).toBe(431);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'headers_too_large' });
    expect(app.received.length).toBe(before);
  });
});

describe('response headers', () => {
  it("an app's 2100 small response headers all reach the client", async () => {
    const res = await rawRequest(sl.ingress, 'GET /headers?n=2100 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(res.status).toBe(200);
    expect(countExtra(res.head)).toBe(2100);
  });

  it('response headers over maxHeaderBytes are a 502 that names the cause, not a connection error', async () => {
    const res = await rawRequest(sl.ingress, 'GET /headers?n=100&bytes=1000 HTTP/1.1\r\nHost: x\r\nX-Request-ID: big-head\r\nConnection: close\r\n\r\n');
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'upstream_headers_too_large', requestId: 'big-head', upstream: 'app' });
    const line = await sl.waitForLog((l) => l.msg === 'request' && l.requestId === 'big-head');
    expect(line).toMatchObject({ status: 502, error: 'upstream_headers_too_large' });
  });
});
