// Counters derived from traffic (metrics.counters) and egress routes, through the built CLI: each
// counter equals the matching exchanges exactly (one per request, retries not counted again),
// client metrics carry the upstream's route template, and random paths add no label values.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeApi, type FakeApi } from '../helpers/fake-api.js';
import { metric } from '../helpers/egress.js';
import { send } from '../helpers/http.js';
import { startSidelight, type RunningSidelight } from '../helpers/sidelight.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

const MESSAGES = '/2010-04-01/Accounts/:sid/Messages.json';

describe('derived counters and egress routes', () => {
  let app: TestApp;
  let api: FakeApi;
  let sl: RunningSidelight;
  beforeAll(async () => {
    [app, api] = await Promise.all([startTestApp(), startFakeApi()]);
    sl = await startSidelight({
      config: {
        ingress: { app: app.url, routes: ['/status/:code'] },
        egress: {
          upstreams: {
            twilio: { url: api.url, ca: api.caFile, routes: [MESSAGES], retry: { attempts: 2, backoff: '10ms', budgetMinRetries: 1000 }, breaker: { enabled: false } },
          },
        },
        metrics: {
          counters: {
            sms_sent_total: { upstream: 'twilio', method: 'POST', route: MESSAGES, status: '2xx' },
            sms_failed_total: { upstream: 'twilio', route: MESSAGES, status: ['4xx', '5xx'] },
            auth_failures_total: { listener: 'ingress', status: [401, 403] },
          },
        },
      },
    });
  });
  afterAll(async () => {
    await sl?.stop();
    await Promise.all([app?.close(), api?.close()]);
  });

  const sms = (sid: string, headers: Record<string, string> = {}) =>
    send(`${sl.egress}/twilio/2010-04-01/Accounts/${sid}/Messages.json`, { method: 'POST', body: 'To=%2B15550100&Body=hi', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });

  it('count exactly the matching exchanges, once per request', async () => {
    for (let i = 0; i < 3; i++) expect((await sms(`AC${i}`)).status).toBe(200);
    // one request, two tries (503, then 200): counted once
    api.failNext(1, { kind: 'status', status: 503 });
    expect((await sms('AC9', { 'idempotency-key': 'k1' })).status).toBe(200);
    api.failNext(1, { kind: 'status', status: 400 });
    expect((await sms('AC8')).status).toBe(400);
    // not matching: another method, another path
    expect((await send(`${sl.egress}/twilio/2010-04-01/Accounts/AC1/Messages.json`)).status).toBe(200);
    expect((await send(`${sl.egress}/twilio/2010-04-01/Accounts/AC1/Calls.json`, { method: 'POST', body: '' })).status).toBe(200);
    for (const code of [401, 401, 403, 404, 200]) expect((await send(`${sl.ingress}/status/${code}`)).status).toBe(code);

    expect(await metric(sl.admin, 'sms_sent_total')).toBe(4);
    expect(await metric(sl.admin, 'sms_failed_total')).toBe(1);
    expect(await metric(sl.admin, 'auth_failures_total')).toBe(3);
    const text = (await send(`${sl.admin}/metrics`)).body;
    expect(text).toContain('# TYPE sms_sent_total counter');
    // the client histogram: the route template, the 503 try and its retry each observed
    expect(await metric(sl.admin, `http_client_request_duration_seconds_count{upstream="twilio",http_request_method="POST",http_response_status_code="200",http_route="${MESSAGES}",error_type=""}`)).toBe(4);
    expect(await metric(sl.admin, `http_client_request_duration_seconds_count{upstream="twilio",http_request_method="POST",http_response_status_code="503",http_route="${MESSAGES}",error_type="503"}`)).toBe(1);
  });

  it('random paths add no route label values', async () => {
    for (let i = 0; i < 40; i++) await send(`${sl.egress}/twilio/x/${Math.random().toString(36).slice(2)}/Messages.json`);
    const text = (await send(`${sl.admin}/metrics`)).body;
    const routes = new Set([...text.matchAll(/^http_client_request_duration_seconds_count\{[^}]*http_route="([^"]*)"/gm)].map((m) => m[1]));
    expect([...routes].sort()).toEqual(['', MESSAGES]);
  });
});
