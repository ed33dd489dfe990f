// Traces as a collector receives them: the built CLI exports OTLP/protobuf to a real receiver in
// this test, which decodes the payloads. Server spans for ingress, client spans per egress try,
// parent/child links across client → sidecar → app → sidecar → external API.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { startSidelight, type RunningSidelight } from '../helpers/sidelight.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTracedApp, type TracedApp } from '../helpers/traced-app.js';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/;
const randomHex = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('');

let receiver: OtlpReceiver;
let app: TestApp; // the app behind ingress for plain requests
let traced: TracedApp; // the app behind a second sidecar, calling out through egress
let api: TestApp; // the "external API" upstream
let flaky: { url: string; hits: string[]; close(): Promise<void> };
let sl: RunningSidelight;
let chain: RunningSidelight;

const exportEnv = (url: string) => ({
  OTEL_TRACES_EXPORTER: 'otlp',
  OTEL_EXPORTER_OTLP_ENDPOINT: url,
  OTEL_BSP_SCHEDULE_DELAY: '50',
  OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test',
  POD_NAME: 'checkout-7d9f-abcde',
  POD_NAMESPACE: 'shop',
  NODE_NAME: 'node-1',
});

/** An upstream that answers 503 to the first request on each path, then 200 with the headers it saw. */
async function startFlaky() {
  const hits: string[] = [];
  const seen = new Set<string>();
  const server: Server = createServer((req, res) => {
    req.resume();
    hits.push(String(req.headers.traceparent));
    const first = !seen.has(req.url ?? '');
    seen.add(req.url ?? '');
    res.writeHead(first ? 503 : 200, { 'content-type': 'application/json' }).end(JSON.stringify({ headers: req.headers }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

beforeAll(async () => {
  [receiver, app, traced, api, flaky] = await Promise.all([startOtlpReceiver(), startTestApp(), startTracedApp(), startTestApp(), startFlaky()]);
  [sl, chain] = await Promise.all([
    startSidelight({
      config: { service: 'checkout', ingress: { app: app.url, routes: ['/api/items/:id'] }, tracing: { exporter: 'otlp', sampleRatio: 1 } },
      env: exportEnv(receiver.url),
    }),
    startSidelight({
      config: {
        service: 'orders',
        ingress: { app: traced.url, routes: ['/call/api/echo', '/call/flaky/:n'] },
        egress: {
          upstreams: {
            api: { url: api.url },
            flaky: { url: flaky.url, routes: ['/:n'], retry: { attempts: 1, backoff: '1ms', maxBackoff: '5ms' } },
          },
        },
      },
      env: exportEnv(receiver.url),
    }),
  ]);
  traced.setEgress(chain.egress);
});

afterAll(async () => {
  await Promise.all([sl?.stop(), chain?.stop()]);
  await Promise.all([receiver?.close(), app?.close(), traced?.close(), api?.close(), flaky?.close()]);
});

const spansOf = (traceId: string) => receiver.spans.filter((s) => s.traceId === traceId);
async function waitForTrace(traceId: string, count: number): Promise<ReceivedSpan[]> {
  await receiver.waitFor(() => spansOf(traceId).length >= count, 10_000, `${count} spans of trace ${traceId}`);
  return spansOf(traceId);
}

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await send(url, { headers });
  return { res, body: JSON.parse(res.body) as { headers: Record<string, string>; status?: number; body?: string } };
}

describe('ingress SERVER span', () => {
  it('continues a valid incoming traceparent, names the span by route and injects its own context', async () => {
    const traceId = randomHex(32);
    const parent = randomHex(16);
    const { res, body } = await get(`${sl.ingress}/api/items/42?token=secret-query`, {
      traceparent: `00-${traceId}-${parent}-01`,
      tracestate: 'vendor=opaque',
      'x-request-id': 'req-traced-1',
      'user-agent': 'tracing-test/1.0',
      authorization: 'Bearer secret-token',
      cookie: 'session=secret-cookie',
    });
    expect(res.status).toBe(200);
    // The app sees sidelight's span as its parent, in the same trace.
    const forwarded = TRACEPARENT.exec(body.headers.traceparent)!;
    expect(forwarded[1]).toBe(traceId);
    expect(forwarded[2]).not.toBe(parent);
    expect(body.headers.tracestate).toBe('vendor=opaque');
    // traceresponse names the trace and sidelight's span.
    expect(res.headers.traceresponse).toBe(`00-${traceId}-${forwarded[2]}-01`);

    const [span] = await waitForTrace(traceId, 1);
    expect(span.kind).toBe('SERVER');
    expect(span.name).toBe('GET /api/items/:id');
    expect(span.spanId).toBe(forwarded[2]);
    expect(span.parentSpanId).toBe(parent);
    expect(span.traceState).toBe('vendor=opaque');
    expect(span.attributes).toMatchObject({
      'http.request.method': 'GET',
      'url.path': '/api/items/42',
      'url.scheme': 'http',
      'http.route': '/api/items/:id',
      'http.response.status_code': 200,
      'server.address': '127.0.0.1',
      'client.address': '127.0.0.1',
      'user_agent.original': 'tracing-test/1.0',
      'sidelight.request_id': 'req-traced-1',
    });
    expect(span.attributes['error.type']).toBeUndefined();
    expect(span.statusCode).toBe(0);
    // No secrets anywhere in the span: no query string, no Authorization, no cookie.
    const text = JSON.stringify(span, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
    expect(text).not.toMatch(/secret/);
    // Resource: service name from the config, Kubernetes downward-API variables, OTEL_RESOURCE_ATTRIBUTES.
    expect(span.resource).toMatchObject({
      'service.name': 'checkout',
      'k8s.pod.name': 'checkout-7d9f-abcde',
      'k8s.namespace.name': 'shop',
      'k8s.node.name': 'node-1',
      'deployment.environment.name': 'test',
    });
    expect(span.resource['service.version']).toEqual(expect.any(String));
    expect(span.scope).toBe('sidelight');

    // The access log line carries the same ids.
    const line = await sl.waitForLog((l) => l.msg === 'request' && l.requestId === 'req-traced-1');
    expect(line.traceId).toBe(traceId);
    expect(line.spanId).toBe(span.spanId);
  });

  it('starts a new trace when the request carries none', async () => {
    const { res, body } = await get(`${sl.ingress}/status/503`);
    expect(res.status).toBe(503);
    const forwarded = TRACEPARENT.exec(String(res.headers.traceresponse))!;
    expect(forwarded).not.toBeNull();
    const [span] = await waitForTrace(forwarded[1], 1);
    expect(span.parentSpanId).toBe('');
    expect(span.spanId).toBe(forwarded[2]);
    expect(span.name).toBe('GET'); // no route template matched
    expect(span.attributes['http.route']).toBeUndefined();
    expect(span.attributes['http.response.status_code']).toBe(503);
    expect(span.attributes['error.type']).toBe('503');
    expect(span.statusCode).toBe(2);
    void body;
  });

  it('accepts B3 single and multi headers and answers the app in kind', async () => {
    const single = { traceId: randomHex(32), spanId: randomHex(16) };
    const a = await get(`${sl.ingress}/echo`, { b3: `${single.traceId}-${single.spanId}-1` });
    const b3 = a.body.headers.b3.split('-');
    expect(b3[0]).toBe(single.traceId);
    expect(b3[1]).not.toBe(single.spanId);
    expect(TRACEPARENT.exec(a.body.headers.traceparent)![2]).toBe(b3[1]);

    const multi = { traceId: randomHex(32), spanId: randomHex(16) };
    const b = await get(`${sl.ingress}/echo`, { 'x-b3-traceid': multi.traceId, 'x-b3-spanid': multi.spanId, 'x-b3-sampled': '1' });
    expect(b.body.headers['x-b3-traceid']).toBe(multi.traceId);
    expect(b.body.headers['x-b3-spanid']).not.toBe(multi.spanId);

    const [s1] = await waitForTrace(single.traceId, 1);
    const [s2] = await waitForTrace(multi.traceId, 1);
    expect(s1.parentSpanId).toBe(single.spanId);
    expect(s2.parentSpanId).toBe(multi.spanId);
    expect(s2.spanId).toBe(b.body.headers['x-b3-spanid']);
  });
});

describe('egress CLIENT spans', () => {
  it('connects client → sidecar → instrumented app → sidecar → external API in one trace', async () => {
    const traceId = randomHex(32);
    const clientSpan = randomHex(16);
    const { res, body } = await get(`${chain.ingress}/call/api/echo?propagate=trace`, { traceparent: `00-${traceId}-${clientSpan}-01` });
    expect(res.status).toBe(200);
    const upstreamSaw = (JSON.parse(body.body!) as { headers: Record<string, string> }).headers;

    const spans = await waitForTrace(traceId, 2);
    const server = spans.find((s) => s.kind === 'SERVER')!;
    const client = spans.find((s) => s.kind === 'CLIENT')!;
    const appSpans = traced.spans().filter((s) => s.spanContext().traceId === traceId);
    const appServer = appSpans.find((s) => s.name === 'GET /call')!;
    const appClient = appSpans.find((s) => s.name === 'GET')!;

    expect(server.parentSpanId).toBe(clientSpan);
    expect(server.name).toBe('GET /call/api/echo');
    expect(appServer.parentSpanContext?.spanId).toBe(server.spanId);
    expect(appClient.parentSpanContext?.spanId).toBe(appServer.spanContext().spanId);
    expect(client.parentSpanId).toBe(appClient.spanContext().spanId);
    // The external API got sidelight's CLIENT span as its parent; the app's own header was replaced.
    expect(upstreamSaw.traceparent).toBe(`00-${traceId}-${client.spanId}-01`);

    expect(client.name).toBe('GET');
    expect(client.resource['service.name']).toBe('orders');
    expect(client.attributes).toMatchObject({
      'http.request.method': 'GET',
      'server.address': '127.0.0.1',
      'server.port': api.port,
      'url.full': `${api.url}/echo`,
      upstream: 'api',
      'http.response.status_code': 200,
    });
    expect(client.attributes['http.request.resend_count']).toBeUndefined();
  });

  it('parents the egress span under the in-flight ingress span when the app forwards only X-Request-ID', async () => {
    const { res, body } = await get(`${chain.ingress}/call/api/echo?propagate=request-id`, { 'x-request-id': 'req-uninstrumented-1' });
    expect(res.status).toBe(200);
    const [, traceId, serverSpanId] = TRACEPARENT.exec(String(res.headers.traceresponse))!;
    const upstreamSaw = (JSON.parse(body.body!) as { headers: Record<string, string> }).headers;
    expect(upstreamSaw['x-request-id']).toBe('req-uninstrumented-1');

    const spans = await waitForTrace(traceId, 2);
    const client = spans.find((s) => s.kind === 'CLIENT')!;
    expect(client.parentSpanId).toBe(serverSpanId);
    expect(client.attributes['sidelight.request_id']).toBe('req-uninstrumented-1');
    expect(upstreamSaw.traceparent).toBe(`00-${traceId}-${client.spanId}-01`);
  });

  it('starts a new trace for an egress call that carries neither trace context nor a known request id', async () => {
    const { res, body } = await get(`${chain.ingress}/call/api/echo?propagate=none`);
    const [, ingressTrace] = TRACEPARENT.exec(String(res.headers.traceresponse))!;
    const upstreamSaw = (JSON.parse(body.body!) as { headers: Record<string, string> }).headers;
    const [, egressTrace, clientSpanId] = TRACEPARENT.exec(upstreamSaw.traceparent)!;
    expect(egressTrace).not.toBe(ingressTrace);
    const [client] = await waitForTrace(egressTrace, 1);
    expect(client.kind).toBe('CLIENT');
    expect(client.spanId).toBe(clientSpanId);
    expect(client.parentSpanId).toBe('');
  });

  it('makes one CLIENT span per try when a call is retried, with http.request.resend_count', async () => {
    const { res, body } = await get(`${chain.ingress}/call/flaky/1?propagate=request-id`, { 'x-request-id': 'req-retried-1' });
    expect(res.status).toBe(200);
    expect(body.status).toBe(200);
    const [, traceId, serverSpanId] = TRACEPARENT.exec(String(res.headers.traceresponse))!;

    const spans = await waitForTrace(traceId, 3);
    const tries = spans.filter((s) => s.kind === 'CLIENT').sort((a, b) => Number(a.startNanos - b.startNanos));
    expect(tries).toHaveLength(2);
    expect(tries.map((s) => s.parentSpanId)).toEqual([serverSpanId, serverSpanId]);
    // the upstream's route template names the span (egress.upstreams.flaky.routes)
    expect(tries.map((s) => [s.name, s.attributes['url.template']])).toEqual([
      ['GET /:n', '/:n'],
      ['GET /:n', '/:n'],
    ]);
    expect(tries[0].spanId).not.toBe(tries[1].spanId);
    expect(tries[0].attributes).toMatchObject({ upstream: 'flaky', 'http.response.status_code': 503, 'error.type': '503' });
    expect(tries[0].statusCode).toBe(2);
    expect(tries[0].attributes['http.request.resend_count']).toBeUndefined();
    expect(tries[1].attributes).toMatchObject({ upstream: 'flaky', 'http.response.status_code': 200, 'http.request.resend_count': 1 });
    // Each try carried its own span's context upstream.
    expect(flaky.hits.slice(-2)).toEqual(tries.map((s) => `00-${traceId}-${s.spanId}-01`));
  });
});
