// Rate limits through the built CLI: ingress.rateLimit and a route's (429 rate_limited with
// Retry-After, per header key, the key never logged), an upstream's limiter (a burst smoothed
// within maxWait, 429 beyond it, CONNECT tunnels through the same tokens), and an API's own 429
// with Retry-After (retried after the advised wait when the request may be retried, the
// limiter held meanwhile, the breaker unmoved).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeApi, type FakeApi } from '../helpers/fake-api.js';
import { metric } from '../helpers/egress.js';
import { send } from '../helpers/http.js';
import { runCli, startSidelight, type RunningSidelight } from '../helpers/sidelight.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { connectThrough } from '../helpers/tunnel.js';

/** a refill so slow that no token comes back during a test: the counts are exact */
const NO_REFILL = 0.001;

describe('ingress rate limits', () => {
  let app: TestApp;
  let sl: RunningSidelight;
  beforeAll(async () => {
    app = await startTestApp();
    sl = await startSidelight({
      config: {
        ingress: {
          app: app.url,
          routes: ['/echo', { path: '/status/:code', rateLimit: { rps: NO_REFILL, burst: 2, key: 'header:x-api-key' } }],
          rateLimit: { rps: NO_REFILL, burst: 8 },
        },
      },
    });
  });
  afterAll(async () => {
    await sl?.stop();
    await app?.close();
  });

  it("a route's limit is per header value; the global one holds for all; past either, 429 rate_limited with Retry-After", async () => {
    const login = (key: string) => send(`${sl.ingress}/status/200`, { headers: { 'x-api-key': key } });
    const statuses = [];
    for (const key of ['key-alpha-secret', 'key-alpha-secret', 'key-alpha-secret', 'key-beta-secret', 'key-beta-secret']) statuses.push((await login(key)).status);
    // alpha's third is over the route's burst of 2; beta has its own bucket
    expect(statuses).toEqual([200, 200, 429, 200, 200]);
    const refused = await login('key-alpha-secret');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(refused.body)).toMatchObject({ error: 'rate_limited', message: expect.stringContaining('/status/:code') });
    // 4 took the global limit's tokens (8); 4 more pass, then the global limit refuses everyone
    const others = [];
    for (let i = 0; i < 5; i++) others.push((await send(`${sl.ingress}/echo`)).status);
    expect(others).toEqual([200, 200, 200, 200, 429]);
    const global = await send(`${sl.ingress}/echo`);
    expect(JSON.parse(global.body)).toMatchObject({ error: 'rate_limited', message: expect.stringContaining('ingress.rateLimit') });
    expect(await metric(sl.admin, 'sidelight_rate_limit_hits_total{listener="ingress",upstream="app",source="local"}')).toBe(4);
    // the app saw only the admitted requests, and no log line holds a key
    expect(app.received.filter((r) => r.url === '/status/200')).toHaveLength(4);
    await sl.waitForLog((l) => l.status === 429 && l.path === '/echo');
    expect(JSON.stringify(sl.logs)).not.toMatch(/key-(alpha|beta)-secret/);
    const stats = JSON.parse((await send(`${sl.admin}/stats`)).body) as { rateLimits: unknown[] };
    expect(stats.rateLimits).toEqual([
      { scope: '/status/:code', rps: NO_REFILL, burst: 2, key: 'header:x-api-key', keys: 2, evicted: 0, refused: 2 },
      { scope: 'ingress.rateLimit', rps: NO_REFILL, burst: 8, key: 'none', keys: 1, evicted: 0, refused: 2, tokens: 0 },
    ]);
    // `sidelight stat` shows them as a table
    const { stdout } = await runCli(['stat', '--admin', sl.admin]);
    expect(stdout).toMatch(/^RATE LIMIT +RPS +BURST +TOKENS +QUEUED +WAITED +AVG WAIT +REFUSED +KEYS$/m);
    expect(stdout).toMatch(/^ingress \/status\/:code +0\.001 +2 +- +- +- +- +2 +2$/m);
    expect(stdout).toMatch(/^ingress ingress\.rateLimit +0\.001 +8 +0\.0 +- +- +- +2 +-$/m);
  });
});

/** a fake API and a sidelight in front of it with the upstreams `upstreams(api)` gives, for one describe block */
function egressFixture(upstreams: (api: FakeApi) => Record<string, unknown>): { api: FakeApi; sl: RunningSidelight } {
  const f = {} as { api: FakeApi; sl: RunningSidelight };
  beforeAll(async () => {
    f.api = await startFakeApi();
    f.sl = await startSidelight({ config: { egress: { upstreams: upstreams(f.api) } } });
  });
  afterAll(async () => {
    await f.sl?.stop();
    await f.api?.close();
  });
  beforeEach(() => f.api.reset());
  return f;
}

describe("an upstream's rate limit", () => {
  const base = (api: FakeApi) => ({ url: api.url, ca: api.caFile, retry: { attempts: 0 }, breaker: { enabled: false } });
  const f = egressFixture((api) => ({
    // 20 a second, one at once: 10 at once are smoothed over 450 ms, well within maxWait
    smooth: { ...base(api), hosts: [new URL(api.url).host], rateLimit: { rps: 20, burst: 1, maxWait: '5s' } },
    // no wait allowed and no refill: exactly `burst` pass
    strict: { ...base(api), hosts: ['strict.test'], rateLimit: { rps: NO_REFILL, burst: 2 } },
    tunnels: { ...base(api), hosts: ['tunnels.test'], rateLimit: { rps: NO_REFILL, burst: 1 } },
  }));

  it('a burst over the rate waits its turn within maxWait: every request is answered, none refused', async () => {
    const answers = await Promise.all(Array.from({ length: 10 }, () => send(`${f.sl.egress}/smooth/v1/charges`)));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(f.api.requests).toHaveLength(10);
    expect(await metric(f.sl.admin, 'sidelight_rate_limit_hits_total{listener="egress",upstream="smooth",source="local"}')).toBe(0);
    // they were smoothed, not let through at once: some waited their turn
    expect(await metric(f.sl.admin, 'sidelight_upstream_rate_limit_waits_total{upstream="smooth"}')).toBeGreaterThan(0);
    const stats = JSON.parse((await send(`${f.sl.admin}/stats`)).body) as { upstreams: Array<{ upstream: string; rateLimit?: Record<string, number> }> };
    const smooth = stats.upstreams.find((u) => u.upstream === 'smooth')!;
    expect(smooth.rateLimit).toMatchObject({ rps: 20, burst: 1, maxWaitMs: 5000, queued: 0, refused: 0 });
    expect(smooth.rateLimit!.waited).toBeGreaterThan(0);
  });

  it('past what maxWait allows, the app gets 429 rate_limited with Retry-After and the API hears nothing', async () => {
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await send(`${f.sl.egress}/strict/v1/charges`));
    expect(statuses.map((a) => a.status)).toEqual([200, 200, 429, 429]);
    expect(Number(statuses[2].headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(statuses[2].body)).toMatchObject({ error: 'rate_limited', upstream: 'strict' });
    expect(f.api.requests).toHaveLength(2);
    expect(await metric(f.sl.admin, 'sidelight_rate_limit_hits_total{listener="egress",upstream="strict",source="local"}')).toBe(2);
    expect(await metric(f.sl.admin, 'http_client_request_duration_seconds_count{upstream="strict",http_request_method="GET",http_response_status_code="",http_route="",error_type="rate_limited"}')).toBe(2);
  });

  it('CONNECT tunnels take their tokens from the same limiter: they wait their turn within maxWait, and past it get 429', async () => {
    const host = new URL(f.api.url).host;
    const waited = await Promise.all([connectThrough(f.sl.egress, host), connectThrough(f.sl.egress, host), send(`${f.sl.egress}/smooth/v1/charges`)]);
    expect(waited.map((a) => a.status)).toEqual([200, 200, 200]);
    for (const t of waited.slice(0, 2)) (t as Awaited<ReturnType<typeof connectThrough>>).socket.destroy();
    const first = await connectThrough(f.sl.egress, 'tunnels.test:443');
    const second = await connectThrough(f.sl.egress, 'tunnels.test:443');
    expect([first.status, second.status]).toEqual([200, 429]);
    expect(second.head).toMatch(/^retry-after: \d+/im);
    expect(JSON.parse(second.body)).toMatchObject({ error: 'rate_limited', upstream: 'tunnels' });
    first.socket.destroy();
  });
});

describe("an API's 429 with Retry-After", () => {
  const f = egressFixture((api) => ({
    stripe: {
      url: api.url,
      ca: api.caFile,
      retry: { attempts: 2, backoff: '10ms', budgetMinRetries: 1000 },
      breaker: { volumeThreshold: 2, errorThresholdPercentage: 50 },
      rateLimit: { rps: 1000, maxWait: '0s' },
    },
    // 429 listed: then it is a failure the breaker counts
    counted: { url: api.url, ca: api.caFile, hosts: ['counted.test'], retry: { attempts: 0 }, breaker: { volumeThreshold: 2, errorThresholdPercentage: 50, failureStatuses: [429, 503] } },
  }));

  it('an idempotent request is retried after the advised wait, and the app sees the answer', async () => {
    f.api.failNext(1, { kind: 'rate-limited', vendor: 'stripe', retryAfter: '1' });
    const res = await send(`${f.sl.egress}/stripe/v1/charges`);
    expect(res.status).toBe(200);
    expect(f.api.requests).toHaveLength(2);
    expect(f.api.requests[1].at - f.api.requests[0].at).toBeGreaterThanOrEqual(990);
    expect(await metric(f.sl.admin, 'sidelight_upstream_retries_total{upstream="stripe",reason="status_429"}')).toBe(1);
  });

  it('a 429 without Retry-After, or on a POST without Idempotency-Key, goes to the app as it came', async () => {
    f.api.failNext(1, { kind: 'rate-limited', vendor: 'stripe' });
    const plain = await send(`${f.sl.egress}/stripe/v1/charges`);
    expect(plain.status).toBe(429);
    expect(JSON.parse(plain.body)).toMatchObject({ error: { code: 'rate_limit' } });
    expect(f.api.requests).toHaveLength(1);
  });

  it('the limiter holds every request for the advised time: they get a local 429, the API hears nothing; the breaker stays closed', async () => {
    const before = await metric(f.sl.admin, 'sidelight_rate_limit_hits_total{listener="egress",upstream="stripe",source="upstream"}');
    f.api.failNext(3, { kind: 'rate-limited', vendor: 'stripe', retryAfter: '30' });
    const post = await send(`${f.sl.egress}/stripe/v1/charges`, { method: 'POST', body: 'amount=1' });
    expect(post.status).toBe(429);
    expect(post.headers['retry-after']).toBe('30');
    const held = await Promise.all(Array.from({ length: 5 }, () => send(`${f.sl.egress}/stripe/v1/charges`)));
    for (const h of held) {
      expect(h.status).toBe(429);
      expect(JSON.parse(h.body)).toMatchObject({ error: 'rate_limited' });
      expect(Number(h.headers['retry-after'])).toBeGreaterThan(20);
    }
    expect(f.api.requests).toHaveLength(1);
    expect(await metric(f.sl.admin, 'sidelight_rate_limit_hits_total{listener="egress",upstream="stripe",source="upstream"}')).toBe(before + 1);
    expect(await metric(f.sl.admin, 'sidelight_circuit_breaker_state{upstream="stripe"}')).toBe(0);
  });

  it('with 429 in breaker.failureStatuses, the breaker counts 429s and opens', async () => {
    f.api.failNext(3, { kind: 'rate-limited', vendor: 'twilio' });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await send(`${f.sl.egress}/counted/x`)).status);
    expect(statuses).toEqual([429, 429, 503]);
    expect(await metric(f.sl.admin, 'sidelight_circuit_breaker_state{upstream="counted"}')).toBe(1);
  });
});
