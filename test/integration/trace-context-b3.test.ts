// A B3 sampling decision sent without ids (github.com/openzipkin/b3-propagation: `b3: 0`,
// `X-B3-Sampled: 0`, `b3: d`) through the built CLI, with spans exported to a real OTLP receiver:
// the app gets sidelight's context with the caller's decision, and a "do not sample" exports
// nothing, neither at ingress nor downstream of an instrumented app calling out through egress.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';
import { startSidelight, type RunningSidelight } from '../helpers/sidelight.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTracedApp, type TracedApp } from '../helpers/traced-app.js';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[0-3])$/;

let receiver: OtlpReceiver;
let app: TestApp; // echoes the headers it received
let traced: TracedApp; // instrumented with the OpenTelemetry SDK, calls out through egress
let api: TestApp; // the external API the traced app calls
let sl: RunningSidelight; // samples every new trace
let quiet: RunningSidelight; // samples no new trace
let chain: RunningSidelight;
let markers = 0;

const exportEnv = (url: string) => ({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: url, OTEL_BSP_SCHEDULE_DELAY: '50' });

beforeAll(async () => {
  [receiver, app, traced, api] = await Promise.all([startOtlpReceiver(), startTestApp(), startTracedApp(), startTestApp()]);
  [sl, quiet, chain] = await Promise.all([
    startSidelight({ config: { ingress: { app: app.url }, tracing: { exporter: 'otlp', sampleRatio: 1 } }, env: exportEnv(receiver.url) }),
    startSidelight({ config: { ingress: { app: app.url }, tracing: { exporter: 'otlp', sampleRatio: 0 } }, env: exportEnv(receiver.url) }),
    startSidelight({
      config: { ingress: { app: traced.url }, egress: { upstreams: { api: { url: api.url } } }, tracing: { exporter: 'otlp', sampleRatio: 1 } },
      env: exportEnv(receiver.url),
    }),
  ]);
  traced.setEgress(chain.egress);
});

afterAll(async () => {
  await Promise.all([sl?.stop(), quiet?.stop(), chain?.stop()]);
  await Promise.all([receiver?.close(), app?.close(), traced?.close(), api?.close()]);
});

/** the trace id, span id and flags of a traceparent value */
function parts(value: unknown): { traceId: string; spanId: string; flags: string } {
  const m = TRACEPARENT.exec(String(value));
  expect(m, String(value)).not.toBeNull();
  return { traceId: m![1], spanId: m![2], flags: m![3] };
}

async function echo(headers: Record<string, string>, through = sl) {
  const res = await send(`${through.ingress}/echo`, { headers });
  expect(res.status).toBe(200);
  return { response: res.headers, received: (JSON.parse(res.body) as { headers: Record<string, string> }).headers };
}

/**
 * Spans leave in the order they end: once a sampled request made after `traceIds` has its span
 * at the receiver, any span of theirs would be there too.
 */
async function expectNoSpans(through: RunningSidelight, traceIds: string[]): Promise<void> {
  const marker = String(++markers).padStart(32, 'a');
  await send(`${through.ingress}/marker`, { headers: { traceparent: `00-${marker}-${'b'.repeat(16)}-01` } });
  await receiver.waitFor((spans) => spans.some((s) => s.traceId === marker), 10_000, 'the marker span');
  expect(receiver.spans.filter((s) => traceIds.includes(s.traceId))).toEqual([]);
}

describe('a B3 sampling decision without ids', () => {
  it('b3: 0 — the app gets a not-sampled context in both encodings, and no span is exported', async () => {
    const { response, received } = await echo({ b3: '0' });
    const sent = parts(received.traceparent);
    expect(sent.flags).toBe('00');
    expect(received.b3).toBe(`${sent.traceId}-${sent.spanId}-0`);
    expect(response.traceresponse).toBe(received.traceparent);

    const multi = await echo({ 'x-b3-sampled': '0' });
    const multiSent = parts(multi.received.traceparent);
    expect(multiSent.flags).toBe('00');
    expect(multi.received).toMatchObject({ 'x-b3-traceid': multiSent.traceId, 'x-b3-spanid': multiSent.spanId, 'x-b3-sampled': '0' });

    await expectNoSpans(sl, [sent.traceId, multiSent.traceId]);
  });

  it('b3: 0 — an instrumented app continues the decision, and its egress call exports nothing either', async () => {
    const res = await send(`${chain.ingress}/call/api/echo?propagate=trace`, { headers: { b3: '0' } });
    expect(res.status).toBe(200);
    const ingress = parts(res.headers.traceresponse);
    expect(ingress.flags).toBe('00');
    const apiSaw = (JSON.parse((JSON.parse(res.body) as { body: string }).body) as { headers: Record<string, string> }).headers;
    const upstream = parts(apiSaw.traceparent);
    expect(upstream).toMatchObject({ traceId: ingress.traceId, flags: '00' });
    expect(traced.spans().filter((s) => s.spanContext().traceId === ingress.traceId)).toEqual([]);
    await expectNoSpans(chain, [ingress.traceId]);
  });

  it('b3: d and X-B3-Flags: 1 (debug) and b3: 1 — a new trace, sampled where the ratio samples none, its span a root', async () => {
    for (const headers of [{ b3: 'd' }, { 'x-b3-flags': '1' }, { b3: '1' }] as Array<Record<string, string>>) {
      const { received } = await echo(headers, quiet);
      const sent = parts(received.traceparent);
      expect(sent.flags, JSON.stringify(headers)).toBe('01');
      const spans = await receiver.waitFor((all) => all.some((s) => s.traceId === sent.traceId), 10_000, `the span of ${JSON.stringify(headers)}`);
      expect(spans.find((s) => s.traceId === sent.traceId)).toMatchObject({ spanId: sent.spanId, parentSpanId: '', kind: 'SERVER' });
    }
  });
});
