// GET /stats through the built CLI: per-route and per-upstream rate, success ratio and latency
// quantiles from real traffic, in-flight counts, retries and breaker state; and what it says
// with metrics turned off.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatsReport } from '../../src/stats/live-stats.js';
import { send, until } from '../helpers/http.js';
import { startSidelight, type RunningSidelight } from '../helpers/sidelight.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

const stats = async (admin: string) => JSON.parse((await send(`${admin}/stats`)).body) as StatsReport;
const route = (s: StatsReport, name: string) => s.routes.find((r) => r.route === name);
const upstream = (s: StatsReport, name: string) => s.upstreams.find((u) => u.upstream === name);

describe('GET /stats', () => {
  let app: TestApp;
  let sl: RunningSidelight;
  beforeAll(async () => {
    app = await startTestApp();
    sl = await startSidelight({
      config: {
        ingress: { app: app.url, routes: ['/echo', '/status/:code', '/slow', '/gate'] },
        egress: { upstreams: { backend: { url: app.url, retry: { attempts: 1, backoff: '1ms', maxBackoff: '2ms' } } } },
        logging: { accessLog: false },
      },
    });
  });
  afterAll(async () => {
    app?.openGate();
    await sl?.stop();
    await app?.close();
  });

  it('starts with every configured upstream, its breaker closed, and no routes yet', async () => {
    const s = await stats(sl.admin);
    expect(s).toMatchObject({ metrics: true, ready: true, draining: false, routes: [] });
    expect(s.listeners).toEqual([{ listener: 'ingress', inflight: 0 }, { listener: 'egress', inflight: 0 }]);
    expect(upstream(s, 'backend')).toMatchObject({ breaker: 'closed', inflight: 0, '1m': { requests: 0, successRatio: null, p50Ms: null } });
  });

  it('gives rate, success ratio and quantiles per route and per upstream over 10 s and 1 min', async () => {
    const all: Array<Promise<unknown>> = [];
    for (let i = 0; i < 20; i++) all.push(send(`${sl.ingress}/echo`));
    for (let i = 0; i < 5; i++) all.push(send(`${sl.ingress}/status/500`));
    for (let i = 0; i < 4; i++) all.push(send(`${sl.ingress}/slow?ms=300`));
    for (let i = 0; i < 10; i++) all.push(send(`${sl.egress}/backend/echo`));
    for (let i = 0; i < 3; i++) all.push(send(`${sl.egress}/backend/status/503`)); // two tries each
    await Promise.all(all);
    const s = await until(async () => {
      const doc = await stats(sl.admin);
      return route(doc, '/echo')?.['10s']?.requests === 20 && upstream(doc, 'backend')?.['10s']?.requests === 16 ? doc : undefined;
    }, 10_000, 'the sampler to take in the traffic');

    const echo = route(s, '/echo')!;
    expect(echo['10s']).toMatchObject({ requests: 20, successRatio: 1 });
    expect(echo['10s']!.rate).toBeCloseTo(20 / echo['10s']!.seconds, 2);
    expect(echo['1m']).toMatchObject({ requests: 20, successRatio: 1 });
    expect(echo['1m']!.p50Ms!).toBeGreaterThan(0);
    expect(echo['1m']!.p50Ms!).toBeLessThanOrEqual(echo['1m']!.p95Ms!);
    expect(echo['1m']!.p95Ms!).toBeLessThanOrEqual(echo['1m']!.p99Ms!);
    expect(route(s, '/status/:code')!['1m']).toMatchObject({ requests: 5, successRatio: 0 });
    // 300 ms answers fall in the (250 ms, 500 ms] bucket; interpolation stays inside it.
    const slow = route(s, '/slow')!['1m']!;
    expect(slow.p50Ms!).toBeGreaterThanOrEqual(250);
    expect(slow.p99Ms!).toBeLessThanOrEqual(500);

    expect(upstream(s, 'backend')!['1m']).toMatchObject({ requests: 16, successRatio: 0.625, retries: 3 });
    // the baseline needs minutes of traffic before it gives a z-score
    expect(echo.zscore).toBeNull();
    expect(echo.baseline.updates).toBeLessThan(30);
  });

  it('shows requests in flight per listener and per upstream, and the breaker state', async () => {
    const held = [send(`${sl.ingress}/gate`), send(`${sl.ingress}/gate`), send(`${sl.egress}/backend/gate`)];
    const s = await until(async () => {
      const doc = await stats(sl.admin);
      return doc.listeners[0].inflight === 2 && doc.listeners[1].inflight === 1 ? doc : undefined;
    }, 10_000, 'three requests in flight');
    expect(upstream(s, 'backend')!.inflight).toBe(1);
    app.openGate();
    await Promise.all(held);
    await send(`${sl.admin}/circuit-breakers/backend/open`, { method: 'POST' });
    expect(upstream(await stats(sl.admin), 'backend')!.breaker).toBe('open');
  });
});

describe('GET /stats with metrics.enabled: false', () => {
  it('still gives in-flight counts and breaker states, and says that rates are not collected', async () => {
    const app = await startTestApp();
    const sl = await startSidelight({
      config: { ingress: { app: app.url }, egress: { upstreams: { backend: { url: app.url } } }, metrics: { enabled: false } },
    });
    try {
      await send(`${sl.ingress}/echo`);
      const s = await stats(sl.admin);
      expect(s).toMatchObject({ metrics: false, routes: [] });
      expect(upstream(s, 'backend')).toEqual({ upstream: 'backend', breaker: 'closed', inflight: 0, maxInflight: 1000 });
    } finally {
      await sl.stop();
      await app.close();
    }
  });
});
