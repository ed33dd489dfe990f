// sidelight's own answers when the app cannot serve: refused (502), too slow (504),
// too many in flight (503 overloaded). Each carries the JSON body and the request id.
import { createServer } from 'node:net';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send, until } from '../helpers/http.js';
import { startSidelight, type RunningSidelight } from '../helpers/sidelight.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

describe('app refused', () => {
  let sl: RunningSidelight;
  beforeAll(async () => {
    sl = await startSidelight({ args: ['--app', `http://127.0.0.1:${await closedPort()}`] });
  });
  afterAll(() => sl?.stop());

  it('answers 502 upstream_unreachable with the request id', async () => {
    const res = await send(`${sl.ingress}/anything`, { headers: { 'x-request-id': 'refused-1' } });
    expect(res.status).toBe(502);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['x-request-id']).toBe('refused-1');
    expect(JSON.parse(res.body)).toEqual({
      error: 'upstream_unreachable',
      message: 'upstream refused the connection',
      requestId: 'refused-1',
      upstream: 'app',
    });
  });
});

describe('app too slow, or too much in flight', () => {
  let app: TestApp;
  let sl: RunningSidelight;
  beforeAll(async () => {
    app = await startTestApp();
    sl = await startSidelight({ config: { ingress: { app: app.url, timeout: '2s' }, limits: { maxInflight: 1 } } });
  });
  afterAll(async () => {
    await sl?.stop();
    await app?.close();
  });

  it('answers 504 upstream_timeout at ingress.timeout and cancels the app request', async () => {
    const res = await send(`${sl.ingress}/hang`, { headers: { 'x-request-id': 'slow-1' } });
    expect(res.status).toBe(504);
    expect(res.headers['x-request-id']).toBe('slow-1');
    expect(JSON.parse(res.body)).toMatchObject({ error: 'upstream_timeout', requestId: 'slow-1', upstream: 'app' });
    await until(() => app.inflight() === 0, 10_000, 'the app request to be cancelled');
  });

  it('answers 503 overloaded past limits.maxInflight', async () => {
    const first = httpRequest(`${sl.ingress}/gate`, { agent: false });
    const firstDone = new Promise<number>((resolve, reject) => {
      first.on('response', (r) => {
        r.resume();
        resolve(r.statusCode ?? 0);
      });
      first.on('error', reject);
    });
    first.end();
    await until(() => app.inflight() === 1, 10_000, 'the first request to reach the app');
    const res = await send(`${sl.ingress}/echo`, { headers: { 'x-request-id': 'over-1' } });
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
    expect(res.headers['x-request-id']).toBe('over-1');
    expect(JSON.parse(res.body)).toMatchObject({ error: 'overloaded', requestId: 'over-1' });
    app.openGate();
    expect(await firstDone).toBe(200);
  });
});
