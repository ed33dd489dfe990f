// Tracing at its edges: sampling 0 still propagates, hostile traceparent values start new traces,
// spans are flushed on drain, and tracing turned off opens no sockets at all.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { startOtlpReceiver } from '../helpers/otlp-receiver.js';
import { startSidelight } from '../helpers/sidelight.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0([01])$/;
const randomHex = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('');

let app: TestApp;
let api: TestApp;

beforeAll(async () => {
  [app, api] = await Promise.all([startTestApp(), startTestApp()]);
});
afterAll(async () => {
  await Promise.all([app?.close(), api?.close()]);
});

const seenHeaders = (body: string) => (JSON.parse(body) as { headers: Record<string, string> }).headers;

describe('sampling ratio 0', () => {
  it('exports nothing of its own choosing, still propagates context, and flushes what was sampled on drain', async () => {
    const receiver = await startOtlpReceiver();
    // A long schedule delay: whatever reaches the receiver was flushed by the drain.
    const sl = await startSidelight({
      config: { ingress: { app: app.url }, egress: { upstreams: { api: { url: api.url } } }, tracing: { sampleRatio: 0 } },
      env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '600000' },
    });
    try {
      // No incoming context: a new, unsampled trace is still propagated to the app and the caller.
      const fresh = await send(`${sl.ingress}/echo`, { headers: { 'x-request-id': 'req-unsampled-1' } });
      const toApp = TRACEPARENT.exec(seenHeaders(fresh.body).traceparent)!;
      expect(toApp[3]).toBe('0');
      expect(fresh.headers.traceresponse).toBe(`00-${toApp[1]}-${toApp[2]}-00`);
      const logged = await sl.waitForLog((l) => l.msg === 'request' && l.requestId === 'req-unsampled-1');
      expect(logged.traceId).toBe(toApp[1]);

      // An unsampled incoming context is continued, unsampled.
      const traceId = randomHex(32);
      const unsampled = await send(`${sl.ingress}/echo`, { headers: { traceparent: `00-${traceId}-${randomHex(16)}-00` } });
      expect(seenHeaders(unsampled.body).traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`));

      // Egress propagates too: the app's context goes upstream as a child, unsampled.
      const egressTrace = randomHex(32);
      const out = await send(`${sl.egress}/api/echo`, { headers: { traceparent: `00-${egressTrace}-${randomHex(16)}-00` } });
      expect(seenHeaders(out.body).traceparent).toMatch(new RegExp(`^00-${egressTrace}-[0-9a-f]{16}-00$`));

      // Parent-based: a sampled caller is honoured even at ratio 0.
      const sampledTrace = randomHex(32);
      await send(`${sl.ingress}/echo`, { headers: { traceparent: `00-${sampledTrace}-${randomHex(16)}-01` } });
    } finally {
      expect(await sl.stop()).toBe(0);
    }
    await receiver.close();
    // Exported in order and flushed at the drain: exactly the one sampled span arrived.
    expect(receiver.spans.map((s) => s.kind)).toEqual(['SERVER']);
    expect(receiver.spans[0].attributes['url.path']).toBe('/echo');
    expect(receiver.requests.every((r) => r.path === '/v1/traces' && r.contentType === 'application/x-protobuf')).toBe(true);
  });
});

describe('hostile traceparent values', () => {
  it('start a new trace without error', async () => {
    const receiver = await startOtlpReceiver();
    const sl = await startSidelight({
      config: { ingress: { app: app.url } },
      env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '50' },
    });
    const tid = randomHex(32);
    const sid = randomHex(16);
    const hostile = [
      `00-${tid.slice(1)}-${sid}-01`, // trace id one digit short
      `00-${tid}-${sid}0-01`, // span id one digit long
      `00-${'0'.repeat(32)}-${sid}-01`, // all-zero trace id
      `00-${tid}-${'0'.repeat(16)}-01`, // all-zero span id
      `00-${tid.toUpperCase().replace(/^[0-9]/, 'A')}-${sid}-01`, // uppercase hex
      `00-${tid}-${sid}-01-extra`, // extra fields on version 00
      `ff-${tid}-${sid}-01`, // forbidden version
      `00-${tid}-${sid}`, // no flags
      'not a traceparent',
      `00-${'a'.repeat(10_000)}-${sid}-01`, // 10 KB
    ];
    try {
      const newTraces: string[] = [];
      for (const value of hostile) {
        const res = await send(`${sl.ingress}/echo`, { headers: { traceparent: value, tracestate: 'x'.repeat(600) } });
        expect(res.status, value.slice(0, 60)).toBe(200);
        const forwarded = seenHeaders(res.body).traceparent;
        expect(forwarded, value.slice(0, 60)).toMatch(TRACEPARENT);
        expect(forwarded).not.toBe(value);
        const [, traceId, spanId, sampled] = TRACEPARENT.exec(forwarded)!;
        expect(traceId).not.toBe(tid);
        expect(sampled).toBe('1');
        expect(res.headers.traceresponse).toBe(forwarded);
        newTraces.push(traceId);
        void spanId;
      }
      expect(new Set(newTraces).size).toBe(hostile.length);
      await receiver.waitFor((spans) => newTraces.every((t) => spans.some((s) => s.traceId === t)), 10_000, 'a span per request');
      for (const t of newTraces) {
        const span = receiver.spans.find((s) => s.traceId === t)!;
        expect(span.kind).toBe('SERVER');
        expect(span.parentSpanId).toBe('');
        expect(span.attributes['http.response.status_code']).toBe(200);
      }
    } finally {
      await sl.stop();
      await receiver.close();
    }
  });
});

describe('tracing off', () => {
  const cases: Array<{ name: string; config: Record<string, unknown>; env: Record<string, string | undefined> }> = [
    { name: 'OTEL_SDK_DISABLED=true', config: { tracing: { exporter: 'otlp' } }, env: { OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' } },
    { name: 'tracing.exporter: none', config: { tracing: { exporter: 'none' } }, env: { OTEL_TRACES_EXPORTER: undefined } },
  ];
  for (const c of cases) {
    it(`${c.name}: starts no exporter, opens no socket, passes trace context through untouched`, async () => {
      const receiver = await startOtlpReceiver();
      const sl = await startSidelight({
        config: { ingress: { app: app.url }, ...c.config },
        env: { ...c.env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '1' },
      });
      const traceparent = `00-${randomHex(32)}-${randomHex(16)}-01`;
      let code: number | string;
      try {
        const res = await send(`${sl.ingress}/echo`, { headers: { traceparent, 'x-request-id': 'req-off-1' } });
        expect(res.status).toBe(200);
        expect(seenHeaders(res.body).traceparent).toBe(traceparent);
        expect(res.headers.traceresponse).toBeUndefined();
        const line = await sl.waitForLog((l) => l.msg === 'request' && l.requestId === 'req-off-1');
        expect(line.traceId).toBeUndefined();
        expect(sl.logs.some((l) => l.msg === 'tracing on')).toBe(false);
      } finally {
        code = await sl.stop();
      }
      // The drain flushes telemetry before exit: had an exporter existed, it would have connected by now.
      expect(code).toBe(0);
      expect(receiver.connections()).toBe(0);
      await receiver.close();
    });
  }

  it('OTEL_TRACES_EXPORTER=otlp overrides tracing.exporter: none from the file', async () => {
    const receiver = await startOtlpReceiver();
    const sl = await startSidelight({
      config: { ingress: { app: app.url }, tracing: { exporter: 'none' } },
      env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '50' },
    });
    try {
      const res = await send(`${sl.ingress}/echo`);
      const [, traceId] = TRACEPARENT.exec(String(res.headers.traceresponse))!;
      await receiver.waitFor((spans) => spans.some((s) => s.traceId === traceId), 10_000, 'the span');
    } finally {
      await sl.stop();
      await receiver.close();
    }
  });
});

describe('the OTLP exporter settings', () => {
  it('sends gzip with the configured headers to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as it is, and never logs the headers', async () => {
    const receiver = await startOtlpReceiver();
    const sl = await startSidelight({
      config: { ingress: { app: app.url } },
      env: {
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', // the signal-specific variable wins
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces`,
        OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-api-key=secret%20key,x-tenant=shop',
        OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
        OTEL_BSP_SCHEDULE_DELAY: '50',
      },
    });
    try {
      const res = await send(`${sl.ingress}/echo`);
      const [, traceId] = TRACEPARENT.exec(String(res.headers.traceresponse))!;
      await receiver.waitFor((spans) => spans.some((s) => s.traceId === traceId), 10_000, 'the span');
      expect(receiver.requests[0]).toMatchObject({ path: '/v1/traces', encoding: 'gzip', contentType: 'application/x-protobuf' });
      expect(receiver.requests[0].headers).toMatchObject({ 'x-api-key': 'secret key', 'x-tenant': 'shop' });
      const started = await sl.waitForLog((l) => l.msg === 'tracing on');
      expect(started.endpoint).toBe(`${receiver.url}/v1/traces`);
      expect(JSON.stringify(sl.logs)).not.toMatch(/secret/);
    } finally {
      await sl.stop();
      await receiver.close();
    }
  });

  it('refuses an endpoint that is not a URL with one message naming the variable (exit 2)', async () => {
    const sl = await startSidelight({ config: { ingress: { app: app.url } }, env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, noWait: true });
    expect(await sl.exited).toBe(2);
    expect(sl.stderr()).toMatch(/OTEL_EXPORTER_OTLP_ENDPOINT: /);
    expect(sl.stderr()).not.toMatch(/\n\s+at /);
  });
});

describe('tracing.exporter: console', () => {
  it('writes each span as one JSON line on stdout', async () => {
    const sl = await startSidelight({ config: { ingress: { app: app.url, routes: ['/echo'] }, tracing: { exporter: 'console' } }, env: { OTEL_TRACES_EXPORTER: undefined } });
    try {
      const res = await send(`${sl.ingress}/echo?token=secret`, { headers: { 'x-request-id': 'req-console-1', authorization: 'Bearer secret' } });
      const [, traceId, spanId] = TRACEPARENT.exec(String(res.headers.traceresponse))!;
      const line = await sl.waitForLog((l) => l.msg === 'span' && l.traceId === traceId);
      expect(line).toMatchObject({ name: 'GET /echo', kind: 'server', spanId, status: 'unset' });
      expect(line.attributes).toMatchObject({ 'url.path': '/echo', 'sidelight.request_id': 'req-console-1', 'http.response.status_code': 200 });
      expect(JSON.stringify(line)).not.toMatch(/secret/);
    } finally {
      await sl.stop();
    }
  });
});
