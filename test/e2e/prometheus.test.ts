// A real Prometheus scrapes a running sidelight every second; PromQL over its HTTP API must see
// the traffic sent through the proxy: the request rate, the 5xx ratio and per-upstream tries.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send, until } from '../helpers/http.js';
import { startPrometheus, type RunningPrometheus } from '../helpers/prometheus.js';
import { startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';
import { startSidelight, type RunningSidelight } from '../helpers/sidelight.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { missing, PROMETHEUS } from '../helpers/tools.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const prometheusMissing = missing(PROMETHEUS);
if (prometheusMissing) console.warn(`SKIPPED test/e2e/prometheus.test.ts: ${prometheusMissing}`);

describe('a real Prometheus scraping sidelight', () => {
  let app: TestApp;
  let sl: RunningSidelight;
  let prom: RunningPrometheus;
  let collector: OtlpReceiver;
  let traffic: NodeJS.Timeout | undefined;
  let running = true;
  let currentTick: Promise<void> = Promise.resolve();
  let sent = 0;
  const stopTraffic = async () => {
    running = false;
    if (traffic) clearTimeout(traffic);
    traffic = undefined;
    await currentTick;
  };

  beforeAll(async () => {
    if (prometheusMissing) return;
    app = await startTestApp();
    collector = await startOtlpReceiver();
    sl = await startSidelight({
      env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: collector.url },
      config: {
        ingress: { app: app.url, routes: ['/status/:code', '/echo'] },
        egress: { upstreams: { backend: { url: app.url, retry: { attempts: 0 } } } },
      },
    });
    prom = await startPrometheus([new URL(sl.admin).host], { ruleFiles: [`${root}deploy/prometheus/rules/sidelight.rules.yml`] });
    // Steady traffic for the rate() windows: three 200s and one 500 on ingress, one egress try, per tick.
    const tick = async () => {
      await Promise.all([
        send(`${sl.ingress}/echo`),
        send(`${sl.ingress}/echo`),
        send(`${sl.ingress}/status/200`),
        send(`${sl.ingress}/status/500`),
        send(`${sl.egress}/backend/echo`),
      ]);
      sent++;
      if (running) traffic = setTimeout(() => (currentTick = tick().catch(() => undefined)), 100);
    };
    await (currentTick = tick());
  });

  afterAll(async () => {
    await stopTraffic();
    await prom?.stop();
    await sl?.stop();
    await app?.close();
    await collector?.close();
  });

  const scalar = async (promql: string): Promise<number | undefined> => {
    const result = await prom.query(promql);
    return result.length === 1 ? Number(result[0].value[1]) : undefined;
  };

  it.skipIf(prometheusMissing)('scrapes the admin port: the target is up', async () => {
    await until(async () => (await scalar('up{job="sidelight"}')) === 1, 20_000, 'up == 1');
  });

  it.skipIf(prometheusMissing)('sees the ingress request rate', async () => {
    const rate = await until(async () => {
      const v = await scalar('sum(rate(http_server_request_duration_seconds_count[1m]))');
      return v !== undefined && v > 0 ? v : undefined;
    }, 25_000, 'a non-zero ingress request rate');
    expect(rate).toBeGreaterThan(0);
    expect(sent).toBeGreaterThan(0);
  });

  it.skipIf(prometheusMissing)('sees the 5xx ratio of the traffic sent: one request in four', async () => {
    const errorRatio =
      'sum(rate(http_server_request_duration_seconds_count{http_response_status_code=~"5.."}[1m]))' +
      ' / sum(rate(http_server_request_duration_seconds_count[1m]))';
    // Each tick sends one 500 among four requests; a scrape in the middle of a tick can shift the
    // counts by a request or two, hence a band around 0.25 rather than the exact value.
    const ratio = await until(async () => {
      const v = await scalar(errorRatio);
      return v !== undefined && v > 0.2 && v < 0.3 ? v : undefined;
    }, 25_000, 'the 5xx ratio to be about 0.25');
    expect(ratio).toBeGreaterThan(0.2);
    const byRoute = await prom.query('sum by (http_route, error_type) (http_server_request_duration_seconds_count{http_response_status_code="500"})');
    expect(byRoute.map((r) => r.metric)).toEqual([{ http_route: '/status/:code', error_type: '500' }]);
  });

  it.skipIf(prometheusMissing)('loads the shipped rules and evaluates them without errors', async () => {
    const healthy = await until(async () => {
      const { groups } = (await prom.api('/api/v1/rules')) as { groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> };
      const rules = groups.flatMap((g) => g.rules);
      return rules.length > 0 && rules.every((r) => r.health === 'ok') ? rules : undefined;
    }, 25_000, 'every rule evaluated with health ok');
    expect(healthy.length).toBe(20);
    await until(async () => ((await scalar('sum(sidelight:http_server_requests:rate5m)')) ?? 0) > 0, 25_000, 'the request-rate recording rule');
  });

  it.skipIf(prometheusMissing)('runs every dashboard query without an error', async () => {
    const dashboard = JSON.parse(readFileSync(`${root}deploy/grafana/sidelight.json`, 'utf8')) as { panels: Array<{ targets?: Array<{ expr: string }> }> };
    const exprs = dashboard.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr.replaceAll('$__rate_interval', '1m').replace(/\$(namespace|job|pod)/g, '.*'));
    for (const expr of exprs) await expect(prom.query(expr), expr).resolves.toBeInstanceOf(Array);
    const ingress = await prom.query(exprs.find((e) => e.includes('by (http_response_status_code)'))!);
    expect(ingress.length).toBeGreaterThan(0);
  });

  it.skipIf(prometheusMissing)('sees egress tries per upstream and the readiness gauge', async () => {
    await until(async () => ((await scalar('sum by (upstream) (rate(http_client_request_duration_seconds_count{upstream="backend"}[1m]))')) ?? 0) > 0, 25_000, 'a non-zero egress try rate');
    expect(await scalar('sidelight_ready')).toBe(1);
    expect(await scalar('count(sidelight_upstream_pool{upstream="backend"})')).toBe(5);
  });

  it.skipIf(prometheusMissing)('stores the exemplar linking a request to its trace', async () => {
    // Each bucket keeps its latest sampled trace; with the background traffic (sampled too) still
    // running, this request's exemplar would be replaced before the next scrape.
    await stopTraffic();
    const traceId = 'c0ffee0000000000000000000000beef';
    await send(`${sl.ingress}/echo`, { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    const now = Date.now() / 1000;
    const found = await until(async () => {
      const data = (await prom.api(
        `/api/v1/query_exemplars?query=${encodeURIComponent('http_server_request_duration_seconds_bucket')}&start=${now - 300}&end=${now + 300}`,
      )) as Array<{ exemplars: Array<{ labels: Record<string, string> }> }>;
      return data.some((series) => series.exemplars.some((e) => e.labels.trace_id === traceId));
    }, 25_000, `an exemplar with trace_id ${traceId} in Prometheus`);
    expect(found).toBe(true);
  });
});
