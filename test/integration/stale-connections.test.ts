// The keep-alive race (a server closing an idle pooled connection just as the next request is
// written on it) must not become a 502 for a request that is safe to send again: idempotent,
// with its body in memory. Such a request is sent once more on another connection, on ingress
// and on egress, and counted; anything else still fails, and a fresh connection that breaks is
// not retried.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { breakerState, metric } from '../helpers/egress.js';
import { makeCerts } from '../helpers/fake-api.js';
import { send } from '../helpers/http.js';
import { startSidelight, type RunningSidelight } from '../helpers/sidelight.js';
import { startStaleKeepAliveServer, type StaleKeepAliveServer } from '../helpers/stale-keepalive-server.js';

describe('ingress: the app closes a pooled connection as the request arrives', () => {
  let app: StaleKeepAliveServer;
  let sl: RunningSidelight;
  beforeAll(async () => {
    app = await startStaleKeepAliveServer();
    sl = await startSidelight({ config: { ingress: { app: app.url } } });
  });
  afterAll(async () => {
    await sl?.stop();
    await app?.close();
  });

  it('idempotent requests without a body never see it: each is sent once more, and counted', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await send(`${sl.ingress}/items/${i}`, { method: i % 2 ? 'GET' : 'DELETE' })).status);
    expect(statuses).toEqual(Array(20).fill(200));
    expect(app.dropped).toBeGreaterThanOrEqual(5); // every reuse of a pooled connection lost the race
    expect(await metric(sl.admin, 'sidelight_upstream_stale_connection_retries_total{upstream="app"}')).toBe(app.dropped);
  });

  it('a POST is never sent twice: it fails with 502 on the stale connection', async () => {
    expect((await send(`${sl.ingress}/warm`)).status).toBe(200);
    const dropped = app.dropped;
    const res = await send(`${sl.ingress}/orders`, { method: 'POST', body: '{"qty":1}', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'upstream_unreachable' });
    expect(app.dropped).toBe(dropped + 1);
  });
});

describe('egress: the API closes a pooled connection as the request arrives', () => {
  let api: StaleKeepAliveServer;
  let sl: RunningSidelight;
  beforeAll(async () => {
    const certs = await makeCerts();
    const caFile = join(mkdtempSync(join(tmpdir(), 'sidelight-stale-')), 'ca.pem');
    writeFileSync(caFile, certs.caCert);
    api = await startStaleKeepAliveServer(certs);
    sl = await startSidelight({ config: { egress: { upstreams: { stripe: { url: api.url, ca: caFile, retry: { attempts: 2 } } } } } });
  });
  afterAll(async () => {
    await sl?.stop();
    await api?.close();
  });

  it('GETs are sent once more on another connection, outside the retry budget and the breaker', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await send(`${sl.egress}/stripe/v1/charges/${i}`)).status);
    expect(statuses).toEqual(Array(12).fill(200));
    expect(api.dropped).toBeGreaterThanOrEqual(3);
    expect(await metric(sl.admin, 'sidelight_upstream_stale_connection_retries_total{upstream="stripe"}')).toBe(api.dropped);
    // one try each, as far as retries, metrics and the breaker can tell
    expect(await metric(sl.admin, 'sidelight_upstream_retries_total{upstream="stripe",reason="connection_reset"}')).toBe(0);
    expect(await breakerState(sl.admin, 'stripe')).toMatchObject({ failures: 0, successes: 12, retryBudget: { retries: 0 } });
  });
});

describe('a fresh connection that breaks', () => {
  it('is not sent again by the stale-connection rule', async () => {
    const { createServer } = await import('node:net');
    let arrivals = 0;
    const server = createServer((socket) => {
      socket.on('data', () => {
        arrivals++;
        socket.destroy();
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const sl = await startSidelight({ config: { ingress: { app: `http://127.0.0.1:${(server.address() as { port: number }).port}` } } });
    try {
      expect((await send(`${sl.ingress}/x`)).status).toBe(502);
      expect(arrivals).toBe(1);
      expect(await metric(sl.admin, 'sidelight_upstream_stale_connection_retries_total{upstream="app"}')).toBe(0);
    } finally {
      await sl.stop();
      server.close();
    }
  });
});
