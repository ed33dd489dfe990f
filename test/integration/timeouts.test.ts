// Timeouts fire when configured, not up to half a second later: undici's own timers tick every
// ~500 ms for delays of a second or more, so sidelight enforces per-try and whole-request
// limits itself. Bounds are loose for a loaded machine (+250 ms) but tight enough that a
// half-second tick fails them: five staggered tries would all have to land early in a tick.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { breakerState } from '../helpers/egress.js';
import { startFakeApi, type FakeApi } from '../helpers/fake-api.js';
import { send } from '../helpers/http.js';
import { startSidelight, type RunningSidelight } from '../helpers/sidelight.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

const SLACK_MS = 250;

/** five requests started 97 ms apart (so they fall at different points of a coarse tick); their durations */
async function staggered(url: string): Promise<Array<{ status: number; ms: number }>> {
  const runs: Array<Promise<{ status: number; ms: number }>> = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    runs.push(send(url).then((r) => ({ status: r.status, ms: performance.now() - started })));
    await new Promise((r) => setTimeout(r, 97));
  }
  return Promise.all(runs);
}

describe('egress per-try timeout', () => {
  let api: FakeApi;
  let sl: RunningSidelight;
  beforeAll(async () => {
    api = await startFakeApi();
    api.set({ kind: 'hang' });
    sl = await startSidelight({
      // requestTimeout well past the per-try limit: the per-try limit alone must end each try.
      config: { egress: { upstreams: { stripe: { url: api.url, ca: api.caFile, timeout: '1s', requestTimeout: '10s', retry: { attempts: 0 }, breaker: { enabled: false } } } } },
    });
  });
  afterAll(async () => {
    await sl?.stop();
    await api?.close();
  });

  it('a hanging upstream gets 504 upstream_timeout within 1 s + slack, every time', async () => {
    const runs = await staggered(`${sl.egress}/stripe/v1/hang`);
    for (const run of runs) {
      expect(run.status).toBe(504);
      expect(run.ms).toBeGreaterThanOrEqual(990);
      expect(run.ms).toBeLessThan(1_000 + SLACK_MS);
    }
  });

  it('a body that stalls past the timeout ends the answer on time', async () => {
    api.set({ kind: 'stall-mid-body' }); // the head and 1000 bytes, then nothing
    const started = performance.now();
    // The head is out: the only honest signal left is a broken connection.
    await expect(send(`${sl.egress}/stripe/v1/stall`)).rejects.toThrow();
    const ms = performance.now() - started;
    expect(ms).toBeGreaterThanOrEqual(990);
    expect(ms).toBeLessThan(1_000 + SLACK_MS);
    // A gap between body chunks: the stream went idle, not the head that was late.
    expect(await sl.waitForLog((l) => l.msg === 'request' && l.path === '/stripe/v1/stall')).toMatchObject({ status: 200, error: 'stream_idle_timeout' });
    api.set({ kind: 'hang' });
  });
});

describe('egress per-try timeout with retries', () => {
  let api: FakeApi;
  let sl: RunningSidelight;
  beforeAll(async () => {
    api = await startFakeApi();
    sl = await startSidelight({
      config: {
        egress: { upstreams: { stripe: { url: api.url, ca: api.caFile, timeout: '1s', requestTimeout: '10s', retry: { attempts: 1, backoff: '1ms', maxBackoff: '1ms' } } } },
      },
    });
  });
  afterAll(async () => {
    await sl?.stop();
    await api?.close();
  });

  it('a 503 then a hanging retry: the retry times out 1 s after it started', async () => {
    api.set({ kind: 'hang' });
    api.failNext(1, { kind: 'status', status: 503 });
    const started = performance.now();
    const res = await send(`${sl.egress}/stripe/v1/hang`);
    expect(res.status).toBe(504);
    expect(performance.now() - started).toBeLessThan(1_000 + SLACK_MS);
    expect(await breakerState(sl.admin, 'stripe')).toMatchObject({ failures: 2, lastFailure: { error: 'timeout' } });
  });
});

describe('ingress.timeout', () => {
  let app: TestApp;
  let sl: RunningSidelight;
  beforeAll(async () => {
    app = await startTestApp();
    sl = await startSidelight({ config: { ingress: { app: app.url, timeout: '1s' } } });
  });
  afterAll(async () => {
    await sl?.stop();
    await app?.close();
  });

  it('a hanging app gets 504 within 1 s + slack, every time', async () => {
    const runs = await staggered(`${sl.ingress}/hang`);
    for (const run of runs) {
      expect(run.status).toBe(504);
      expect(run.ms).toBeGreaterThanOrEqual(990);
      expect(run.ms).toBeLessThan(1_000 + SLACK_MS);
    }
  });
});
