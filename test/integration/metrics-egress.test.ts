// Egress metrics through the real retry and breaker: every try is one observation, retries and
// breaker refusals are counted, and the breaker state gauge follows the breaker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { find, promtool, scrape, scrapeUntil, value } from '../helpers/prometheus.js';
import { startSidelight, type RunningSidelight } from '../helpers/sidelight.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

const TRIES = 'http_client_request_duration_seconds_count';

describe('egress metrics with retries and a circuit breaker', () => {
  let app: TestApp;
  let other: TestApp;
  let sl: RunningSidelight;

  beforeAll(async () => {
    // two apps: an upstream's URL host is also its Host-header route, and routes must not overlap
    [app, other] = await Promise.all([startTestApp(), startTestApp()]);
    sl = await startSidelight({
      config: {
        ingress: { app: app.url },
        egress: {
          upstreams: {
            flaky: { url: app.url, retry: { attempts: 2, backoff: '10ms', maxBackoff: '10ms', budgetPercent: 100 }, breaker: { volumeThreshold: 1000 } },
            shut: { url: other.url, retry: { attempts: 0 } },
          },
        },
      },
    });
  });

  afterAll(async () => {
    await sl?.stop();
    await app?.close();
    await other?.close();
  });

  it('observes each try of a retried request and counts the retries by reason', async () => {
    expect((await send(`${sl.egress}/flaky/status/503`)).status).toBe(503);
    const { samples } = await scrapeUntil(sl.admin, (s) => value(s, TRIES, { upstream: 'flaky', http_response_status_code: '503', error_type: '503' }) === 3, 'three tries of the 503');
    expect(value(samples, 'sidelight_upstream_retries_total', { upstream: 'flaky', reason: 'status_503' })).toBe(2);
    expect(value(samples, 'http_client_active_requests', { upstream: 'flaky' })).toBe(0);
  });

  it('counts a refused try as circuit_open and follows the breaker state', async (ctx) => {
    const before = (await scrape(sl.admin)).samples;
    expect(value(before, 'sidelight_circuit_breaker_state', { upstream: 'shut' })).toBe(0);
    expect((await fetch(`${sl.admin}/circuit-breakers/shut/open`, { method: 'POST' })).status).toBe(200);
    const answer = await send(`${sl.egress}/shut/echo`);
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body).error).toBe('circuit_open');
    const { samples, text } = await scrapeUntil(sl.admin, (s) => value(s, TRIES, { upstream: 'shut', error_type: 'circuit_open' }) === 1, 'the refused try');
    expect(find(samples, TRIES, { upstream: 'shut', error_type: 'circuit_open' })[0].labels.http_response_status_code).toBe('');
    expect(value(samples, 'sidelight_circuit_breaker_state', { upstream: 'shut' })).toBe(1);
    expect(value(samples, 'sidelight_circuit_breaker_transitions_total', { upstream: 'shut', to: 'open' })).toBe(1);
    expect(value(samples, 'sidelight_circuit_breaker_rejections_total', { upstream: 'shut' })).toBe(1);

    expect((await fetch(`${sl.admin}/circuit-breakers/shut/close`, { method: 'POST' })).status).toBe(200);
    const after = (await scrape(sl.admin)).samples;
    expect(value(after, 'sidelight_circuit_breaker_state', { upstream: 'shut' })).toBe(0);
    expect(value(after, 'sidelight_circuit_breaker_transitions_total', { upstream: 'shut', to: 'closed' })).toBe(1);
    expect(promtool(ctx, ['check', 'metrics'], text).output).toBe('');
  });
});
