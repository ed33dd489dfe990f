// RED metrics on the admin port after known traffic through the built CLI: counts, buckets,
// error types, bounded labels, exemplars under OpenMetrics, and a lint-clean scrape.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send, until } from '../helpers/http.js';
import { find, freePort, promtool, scrape, scrapeUntil, value, type Sample } from '../helpers/prometheus.js';
import { startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';
import { startSidelight, type RunningSidelight } from '../helpers/sidelight.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

const LE = ['0.005', '0.01', '0.025', '0.05', '0.075', '0.1', '0.25', '0.5', '0.75', '1', '2.5', '5', '7.5', '10', '+Inf'];
const SERVER = 'http_server_request_duration_seconds';
const CLIENT = 'http_client_request_duration_seconds';

const server = (method: string, status: string, route: string, errorType: string) => ({
  http_request_method: method,
  http_response_status_code: status,
  http_route: route,
  error_type: errorType,
});
const client = (upstream: string, method: string, status: string, errorType: string) => ({
  upstream,
  http_request_method: method,
  http_response_status_code: status,
  error_type: errorType,
});

/** Every series of a histogram has all buckets in order, cumulative, with +Inf equal to _count. */
function expectWellFormedHistogram(samples: Sample[], name: string): void {
  const counts = find(samples, `${name}_count`);
  expect(counts.length).toBeGreaterThan(0);
  for (const c of counts) {
    const buckets = find(samples, `${name}_bucket`, c.labels);
    expect(buckets.map((b) => b.labels.le)).toEqual(LE);
    for (let i = 1; i < buckets.length; i++) expect(buckets[i].value).toBeGreaterThanOrEqual(buckets[i - 1].value);
    expect(buckets.at(-1)!.value).toBe(c.value);
    expect(value(samples, `${name}_sum`, c.labels)).toBeGreaterThan(0);
  }
}

function bucket(samples: Sample[], name: string, labels: Record<string, string>, le: string): number {
  return value(samples, `${name}_bucket`, { ...labels, le });
}

describe('metrics after known traffic', () => {
  let app: TestApp;
  let sl: RunningSidelight;
  let collector: OtlpReceiver;

  beforeAll(async () => {
    app = await startTestApp();
    // Tracing on, exporting to a real receiver: exemplars come from the spans' sampled trace ids.
    collector = await startOtlpReceiver();
    const closedPort = await freePort();
    sl = await startSidelight({
      env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: collector.url },
      config: {
        ingress: { app: app.url, timeout: '1s', routes: ['/status/:code', '/echo'] },
        egress: {
          upstreams: {
            backend: { url: app.url, timeout: '1s', retry: { attempts: 0 } },
            down: { url: `http://127.0.0.1:${closedPort}`, retry: { attempts: 0 }, breaker: { enabled: false } },
          },
        },
      },
    });
    const ingress = (path: string, method = 'GET', headers = {}) => send(`${sl.ingress}${path}`, { method, headers });
    const egress = (path: string) => send(`${sl.egress}${path}`);
    const answers = await Promise.all([
      ingress('/echo'),
      ingress('/echo'),
      ingress('/echo'),
      ingress('/status/404'),
      ingress('/status/404'),
      ingress('/status/500'),
      ingress('/status/500'),
      ingress('/hang'),
      ingress('/echo', 'PROPFIND'),
      ingress('/not/a/route?api_key=hunter2', 'GET', { 'x-request-id': 'req-must-not-be-a-label', authorization: 'Bearer sekrit' }),
      egress('/backend/echo'),
      egress('/backend/echo'),
      egress('/backend/status/503'),
      egress('/backend/hang'),
      egress('/down/anything'),
      egress('/nope/anything'),
    ]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 404, 404, 500, 500, 504, 200, 200, 200, 200, 503, 504, 502, 404]);
  });

  afterAll(async () => {
    await sl?.stop();
    await app?.close();
    await collector?.close();
  });

  it('counts every ingress request once, by method, status, route template and error type', async () => {
    const { samples } = await scrapeUntil(sl.admin, (s) => value(s, `${SERVER}_count`, server('GET', '504', '', 'timeout')) === 1 && find(s, `${SERVER}_count`).reduce((n, x) => n + x.value, 0) === 10, 'ten ingress observations');
    expect(value(samples, `${SERVER}_count`, server('GET', '200', '/echo', ''))).toBe(3);
    expect(value(samples, `${SERVER}_count`, server('GET', '404', '/status/:code', ''))).toBe(2);
    expect(value(samples, `${SERVER}_count`, server('GET', '500', '/status/:code', '500'))).toBe(2);
    expect(value(samples, `${SERVER}_count`, server('GET', '504', '', 'timeout'))).toBe(1);
    expect(value(samples, `${SERVER}_count`, server('_OTHER', '200', '/echo', ''))).toBe(1);
    expect(value(samples, `${SERVER}_count`, server('GET', '200', '', ''))).toBe(1);
    expectWellFormedHistogram(samples, SERVER);
    // The timed-out request lasted at least ingress.timeout (1 s, generous for a loaded CI machine): nothing at or below 0.75 s.
    expect(bucket(samples, SERVER, server('GET', '504', '', 'timeout'), '0.75')).toBe(0);
    expect(bucket(samples, SERVER, server('GET', '504', '', 'timeout'), '+Inf')).toBe(1);
  });

  it('counts every egress try, with the failure type when there was no answer', async () => {
    const { samples } = await scrapeUntil(sl.admin, (s) => find(s, `${CLIENT}_count`).reduce((n, x) => n + x.value, 0) === 5, 'five egress tries');
    expect(value(samples, `${CLIENT}_count`, client('backend', 'GET', '200', ''))).toBe(2);
    expect(value(samples, `${CLIENT}_count`, client('backend', 'GET', '503', '503'))).toBe(1);
    expect(value(samples, `${CLIENT}_count`, client('backend', 'GET', '', 'timeout'))).toBe(1);
    expect(value(samples, `${CLIENT}_count`, client('down', 'GET', '', 'connection_refused'))).toBe(1);
    expect(bucket(samples, CLIENT, client('backend', 'GET', '', 'timeout'), '0.75')).toBe(0);
    expectWellFormedHistogram(samples, CLIENT);
    expect(value(samples, 'sidelight_egress_rejections_total', { listener: 'egress', reason: 'unknown_upstream' })).toBe(1);
  });

  it('never puts a raw path, query, request id or header value in a label', async () => {
    const { text } = await scrape(sl.admin);
    for (const leak of ['/not/a/route', 'api_key', 'hunter2', 'req-must-not-be-a-label', 'sekrit', 'PROPFIND', '/anything', 'nope']) {
      expect(text).not.toContain(leak);
    }
  });

  it('reads gauges at scrape time: active requests, pools, readiness, drain, build info, breakers', async () => {
    const { samples } = await scrapeUntil(
      sl.admin,
      (s) => value(s, 'http_server_active_requests') === 0 && value(s, 'http_client_active_requests', { upstream: 'backend' }) === 0,
      'active requests back to zero',
    );
    for (const upstream of ['app', 'backend', 'down']) {
      expect(find(samples, 'sidelight_upstream_pool', { upstream }).map((s) => s.labels.state).sort()).toEqual(['connected', 'free', 'pending', 'queued', 'running']);
    }
    expect(value(samples, 'sidelight_draining')).toBe(0);
    expect(find(samples, 'sidelight_build_info')[0].labels).toEqual({ version: expect.stringMatching(/^\d+\.\d+\.\d+/), node: process.version });
    expect(value(samples, 'sidelight_circuit_breaker_state', { upstream: 'backend' })).toBe(0);
    expect(find(samples, 'nodejs_eventloop_lag_p99_seconds')).toHaveLength(1);
    expect(find(samples, 'process_cpu_seconds_total')).toHaveLength(1);
    await until(async () => value((await scrape(sl.admin)).samples, 'sidelight_ready') === 1, 10_000, 'sidelight_ready 1');
  });

  it('serves Prometheus text by default, without exemplars', async () => {
    const res = await scrape(sl.admin);
    expect(res.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.text).not.toContain('# {');
    expect(res.text).not.toContain('# EOF');
    expect(res.text).toContain('# TYPE sidelight_circuit_breaker_rejections_total counter');
  });

  it('passes promtool check metrics on a live scrape after mixed traffic', async (ctx) => {
    const { text } = await scrape(sl.admin);
    const lint = promtool(ctx, ['check', 'metrics'], text);
    expect(lint.output).toBe('');
    expect(lint.code).toBe(0);
  });

  it('under OpenMetrics, links a sampled request to its trace with an exemplar on the duration histogram', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await send(`${sl.ingress}/echo`, { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    expect(res.status).toBe(200);
    const om = await scrapeUntil(
      sl.admin,
      (s) => find(s, `${SERVER}_bucket`).some((b) => b.exemplar?.labels.trace_id === traceId),
      `an exemplar with trace_id ${traceId}`,
      { openmetrics: true },
    );
    expect(om.contentType).toMatch(/^application\/openmetrics-text; version=1\.0\.0/);
    expect(om.text.endsWith('# EOF\n')).toBe(true);
    expect(om.text).toContain('# TYPE sidelight_circuit_breaker_rejections counter');
    const withExemplar = find(om.samples, `${SERVER}_bucket`, server('GET', '200', '/echo', '')).find((b) => b.exemplar?.labels.trace_id === traceId)!;
    expect(withExemplar.exemplar!.value).toBeGreaterThan(0);
    expect(Number(withExemplar.labels.le === '+Inf' ? Infinity : withExemplar.labels.le)).toBeGreaterThanOrEqual(withExemplar.exemplar!.value);
    expect(withExemplar.exemplar!.timestamp).toBeGreaterThan(Date.now() / 1000 - 600);
  });

  it('under OpenMetrics, links an egress try to the trace the app sent', async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const res = await send(`${sl.egress}/backend/echo`, { headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` } });
    expect(res.status).toBe(200);
    await scrapeUntil(
      sl.admin,
      (s) => find(s, `${CLIENT}_bucket`, client('backend', 'GET', '200', '')).some((b) => b.exemplar?.labels.trace_id === traceId),
      `a client exemplar with trace_id ${traceId}`,
      { openmetrics: true },
    );
  });
});

describe('series cap', () => {
  let app: TestApp;
  let sl: RunningSidelight;
  beforeAll(async () => {
    app = await startTestApp();
    sl = await startSidelight({ config: { ingress: { app: app.url, routes: ['/status/:code'] }, metrics: { maxSeries: 3 } } });
  });
  afterAll(async () => {
    await sl?.stop();
    await app?.close();
  });

  it('folds label sets beyond metrics.maxSeries into one overflow series and counts them', async (ctx) => {
    for (const code of [400, 401, 402, 403, 405, 403]) expect((await send(`${sl.ingress}/status/${code}`)).status).toBe(code);
    const { samples, text } = await scrapeUntil(sl.admin, (s) => find(s, `${SERVER}_count`).reduce((n, x) => n + x.value, 0) === 6, 'six observations');
    const counts = find(samples, `${SERVER}_count`);
    const regular = counts.filter((c) => !c.labels.otel_metric_overflow);
    expect(regular).toHaveLength(3);
    expect(value(samples, `${SERVER}_count`, { otel_metric_overflow: 'true' })).toBe(3);
    expect(value(samples, 'sidelight_metrics_overflow_total', { metric: SERVER })).toBe(3);
    expect(promtool(ctx, ['check', 'metrics'], text).output).toBe('');
  });

  it('reads pool stats and active requests at scrape time', async () => {
    const pending = send(`${sl.ingress}/gate`);
    await scrapeUntil(
      sl.admin,
      (s) => value(s, 'http_server_active_requests') === 1 && value(s, 'sidelight_upstream_pool', { upstream: 'app', state: 'running' }) === 1,
      'one request running on the app pool',
    );
    app.openGate();
    expect((await pending).status).toBe(200);
    await scrapeUntil(sl.admin, (s) => value(s, 'http_server_active_requests') === 0 && value(s, 'sidelight_upstream_pool', { upstream: 'app', state: 'running' }) === 0, 'the pool idle again');
  });
});

describe('metrics disabled', () => {
  let sl: RunningSidelight;
  beforeAll(async () => {
    sl = await startSidelight({ config: { metrics: { enabled: false } } });
  });
  afterAll(async () => {
    await sl?.stop();
  });

  it('has no /metrics endpoint', async () => {
    expect((await scrape(sl.admin)).status).toBe(404);
  });
});
