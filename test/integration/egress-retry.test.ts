// Retry rules through the built CLI against a local HTTPS fake: what is retried (idempotent
// methods, POST with Idempotency-Key; on 502/503/504, resets, refused connections), what never
// is (POST without a key, 500, after part of the response, bodies over maxBodyBytes), and the
// retry budget under a failure storm.
import { request } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeApi, type FakeApi } from '../helpers/fake-api.js';
import { send, until } from '../helpers/http.js';
import { startSidelight, type RunningSidelight } from '../helpers/sidelight.js';
import { metric } from '../helpers/egress.js';

describe('retry rules', () => {
  let api: FakeApi;
  let sl: RunningSidelight;
  beforeAll(async () => {
    api = await startFakeApi();
    sl = await startSidelight({
      config: {
        egress: {
          upstreams: {
            stripe: {
              url: api.url,
              ca: api.caFile,
              retry: { attempts: 2, backoff: '10ms', maxBackoff: '50ms', budgetMinRetries: 1000, maxBodyBytes: 1024 },
              breaker: { enabled: false },
            },
          },
        },
      },
    });
  });
  afterAll(async () => {
    await sl?.stop();
    await api?.close();
  });
  beforeEach(() => api.reset());

  it('GET is retried on 503 and the app sees only the final answer', async () => {
    api.failNext(1, { kind: 'status', status: 503 });
    const res = await send(`${sl.egress}/stripe/v1/charges`, { headers: { 'x-request-id': 'retry-503' } });
    expect(res.status).toBe(200);
    expect(api.requests.map((r) => r.url)).toEqual(['/v1/charges', '/v1/charges']);
    // every try carries the same request id
    expect(api.requests.map((r) => r.headers['x-request-id'])).toEqual(['retry-503', 'retry-503']);
    expect(await metric(sl.admin, 'sidelight_upstream_retries_total{upstream="stripe",reason="status_503"}')).toBe(1);
  });

  it('GET is retried on 502 and 504 up to `attempts` extra tries, then the last answer goes back', async () => {
    api.failNext(1, { kind: 'status', status: 502 });
    api.failNext(2, { kind: 'status', status: 504 });
    const res = await send(`${sl.egress}/stripe/v1/charges`);
    expect(res.status).toBe(504);
    expect(api.requests).toHaveLength(3);
  });

  it('GET is retried on a reset before any response byte', async () => {
    // On a fresh connection: a reset on a reused one is the stale keep-alive rule's (stale-connections.test.ts).
    await api.refuse();
    await until(async () => JSON.parse((await send(`${sl.admin}/health`)).body).upstreams.stripe.pool.connected === 0, 5_000, 'pooled connections gone');
    await api.accept();
    api.failNext(1, { kind: 'reset' });
    const res = await send(`${sl.egress}/stripe/v1/charges`);
    expect(res.status).toBe(200);
    expect(api.requests).toHaveLength(2);
    expect(await metric(sl.admin, 'sidelight_upstream_retries_total{upstream="stripe",reason="connection_reset"}')).toBe(1);
  });

  it('500 is not retried (only 502, 503, 504)', async () => {
    api.failNext(1, { kind: 'status', status: 500 });
    expect((await send(`${sl.egress}/stripe/v1/charges`)).status).toBe(500);
    expect(api.requests).toHaveLength(1);
  });

  it('POST without Idempotency-Key is never retried, on a 503 or a reset', async () => {
    api.failNext(1, { kind: 'status', status: 503 });
    const body = 'amount=2000&currency=usd';
    const headers = { 'content-type': 'application/x-www-form-urlencoded' };
    expect((await send(`${sl.egress}/stripe/v1/charges`, { method: 'POST', body, headers })).status).toBe(503);
    expect(api.requests).toHaveLength(1);
    api.failNext(1, { kind: 'reset' });
    expect((await send(`${sl.egress}/stripe/v1/charges`, { method: 'POST', body, headers })).status).toBe(502);
    expect(api.requests).toHaveLength(2);
  });

  it('POST with Idempotency-Key is retried with the same key and body', async () => {
    api.failNext(1, { kind: 'status', status: 503 });
    const body = 'amount=2000&currency=usd';
    const res = await send(`${sl.egress}/stripe/v1/charges`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': 'key-123' },
    });
    expect(res.status).toBe(200);
    expect(api.requests).toHaveLength(2);
    for (const r of api.requests) {
      expect(r.body).toBe(body);
      expect(r.headers['idempotency-key']).toBe('key-123');
    }
  });

  it('a body within maxBodyBytes is replayed (with or without content-length); a bigger one is streamed and not retried', async () => {
    const small = 'x'.repeat(500);
    api.failNext(1, { kind: 'status', status: 503 });
    expect((await send(`${sl.egress}/stripe/v1/put`, { method: 'PUT', body: small })).status).toBe(200);
    expect(api.requests.map((r) => r.body.length)).toEqual([500, 500]);

    api.reset();
    const big = 'y'.repeat(5000);
    api.failNext(1, { kind: 'status', status: 503 });
    expect((await send(`${sl.egress}/stripe/v1/put`, { method: 'PUT', body: big })).status).toBe(503);
    expect(api.requests.map((r) => r.body.length)).toEqual([5000]);

    // chunked (no content-length): within the limit replayed, bigger streamed through intact and not retried
    const chunked = (chunks: number) =>
      new Promise<number>((resolve, reject) => {
        const req = request(`${sl.egress}/stripe/v1/put`, { method: 'PUT', agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        for (let i = 0; i < chunks; i++) req.write('z'.repeat(300));
        req.end();
      });
    api.reset();
    api.failNext(1, { kind: 'status', status: 503 });
    expect(await chunked(3)).toBe(200);
    expect(api.requests.map((r) => r.body.length)).toEqual([900, 900]);
    api.reset();
    api.failNext(1, { kind: 'status', status: 503 });
    expect(await chunked(10)).toBe(503);
    expect(api.requests.map((r) => r.body.length)).toEqual([3000]);
  });

  it('never retries once part of the response went to the app', async () => {
    api.set({ kind: 'reset-mid-body' });
    const outcome = await new Promise<{ status: number; broken: boolean }>((resolve) => {
      const req = request(`${sl.egress}/stripe/v1/file`, { agent: false }, (res) => {
        res.on('data', () => {});
        res.on('error', () => resolve({ status: res.statusCode ?? 0, broken: true }));
        res.on('aborted', () => resolve({ status: res.statusCode ?? 0, broken: true }));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, broken: false }));
      });
      req.on('error', () => resolve({ status: 0, broken: true }));
      req.end();
    });
    expect(outcome).toEqual({ status: 200, broken: true });
    expect(api.requests).toHaveLength(1);
  });

  it('a refused connection is retried, then answered 502 upstream_unreachable', async () => {
    await api.refuse();
    try {
      const before = await metric(sl.admin, 'sidelight_upstream_retries_total{upstream="stripe",reason="connection_refused"}');
      const res = await send(`${sl.egress}/stripe/v1/charges`);
      expect(res.status).toBe(502);
      expect(JSON.parse(res.body)).toMatchObject({ error: 'upstream_unreachable' });
      expect(await metric(sl.admin, 'sidelight_upstream_retries_total{upstream="stripe",reason="connection_refused"}')).toBe(before + 2);
    } finally {
      await api.accept();
    }
  });
});

describe('retry budget', () => {
  it('caps retries under a failure storm to budgetPercent of requests (plus the floor)', async () => {
    const api = await startFakeApi();
    const sl = await startSidelight({
      config: {
        egress: {
          upstreams: {
            stripe: {
              url: api.url,
              ca: api.caFile,
              retry: { attempts: 3, backoff: '1ms', maxBackoff: '5ms', budgetPercent: 20, budgetMinRetries: 2 },
              breaker: { enabled: false, rollingWindow: '60s' },
            },
          },
        },
      },
    });
    try {
      api.set({ kind: 'status', status: 503 });
      const requests = 60;
      for (let batch = 0; batch < requests / 6; batch++) {
        const answers = await Promise.all(Array.from({ length: 6 }, () => send(`${sl.egress}/stripe/v1/charges`)));
        for (const a of answers) expect(a.status).toBe(503);
      }
      const retries = api.requests.length - requests;
      // Without a budget: 3 × 60 = 180 retries. With it: at most 2 + 20 % of 60 = 14.
      expect(retries).toBeGreaterThan(0);
      expect(retries).toBeLessThanOrEqual(2 + 0.2 * requests);
      expect(await metric(sl.admin, 'sidelight_upstream_retries_total{upstream="stripe",reason="status_503"}')).toBe(retries);
      expect(await metric(sl.admin, 'sidelight_upstream_retry_budget_exhausted_total{upstream="stripe"}')).toBeGreaterThan(0);
    } finally {
      await sl.stop();
      await api.close();
    }
  });
});
