// How the built CLI's span export meets a collector that fails: Retry-After honoured up to its
// bound, permanent failures (TLS) tried once, and a SIGTERM while a failed export waits for its
// retry still ending in exit 0 with the unsent spans counted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCerts } from '../helpers/fake-api.js';
import { send, until } from '../helpers/http.js';
import { startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';
import { startSidelight, type LogLine, type RunningSidelight } from '../helpers/sidelight.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { freePort } from '../helpers/tunnel.js';

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app?.close();
});

function startTraced(endpoint: string): Promise<RunningSidelight> {
  return startSidelight({
    config: { ingress: { app: app.url }, logging: { level: 'debug', accessLog: false } },
    env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_BSP_SCHEDULE_DELAY: '200' },
  });
}

const exportFailed = (l: LogLine) => l.msg === 'tracing' && l.kind === 'export_failed';
const exportRetry = (l: LogLine) => l.msg === 'tracing' && l.kind === 'export_retry';

describe('a collector that answers Retry-After', () => {
  let receiver: OtlpReceiver;
  let sl: RunningSidelight;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    sl = await startTraced(receiver.url);
  });
  afterAll(async () => {
    await sl?.stop();
    await receiver?.close();
  });

  it('gets the batch again no sooner than it asked, past 5 s', { timeout: 30_000 }, async () => {
    receiver.behave({ status: 503, retryAfter: '6' });
    await send(`${sl.ingress}/echo`);
    await sl.waitForLog(exportRetry);
    receiver.behave({});
    await receiver.waitFor((spans) => spans.length === 1, 20_000, 'the retried batch');
    const [refused, taken] = receiver.requests;
    expect(taken.answeredAt - refused.answeredAt).toBeGreaterThanOrEqual(6_000);
  });

  it('takes Retry-After as an HTTP date too', { timeout: 30_000 }, async () => {
    const before = receiver.requests.length;
    // 2 to 3 s ahead, on a whole second as HTTP dates are; without it the first backoff is 0.5 to 1 s.
    const date = new Date(Math.ceil(Date.now() / 1000) * 1000 + 3_000);
    receiver.behave({ status: 503, retryAfter: date.toUTCString() });
    await send(`${sl.ingress}/echo`);
    await sl.waitForLog((l) => exportRetry(l) && String(l.detail).includes(date.toUTCString()));
    receiver.behave({});
    await receiver.waitFor((spans) => spans.length === 2, 20_000, 'the retried batch');
    const [refused, taken] = receiver.requests.slice(before);
    expect(taken.answeredAt - refused.answeredAt).toBeGreaterThan(1_500);
  });

  it('drops the batch at once when it asks for more than 60 s, and says why', { timeout: 30_000 }, async () => {
    const before = receiver.requests.length;
    receiver.behave({ status: 429, retryAfter: '3600' });
    await send(`${sl.ingress}/echo`);
    const line = await sl.waitForLog(exportFailed, 20_000);
    expect(String(line.detail)).toMatch(/^Dropped 1 spans: the collector at http:\/\/127\.0\.0\.1:\d+\/v1\/traces did not take them: collector answered 429 with Retry-After: 3600/);
    expect(receiver.requests.length - before).toBe(1);
  });
});

describe('a collector whose certificate is not trusted', () => {
  it('is tried once per batch, not retried, and the failure logged once', { timeout: 30_000 }, async () => {
    const receiver = await startOtlpReceiver({ tls: await makeCerts() });
    // No OTEL_EXPORTER_OTLP_CERTIFICATE: the receiver's CA is unknown to sidelight.
    const sl = await startTraced(receiver.url);
    try {
      await send(`${sl.ingress}/echo`);
      const line = await sl.waitForLog(exportFailed, 20_000);
      expect(String(line.detail)).toMatch(/did not take them: TLS handshake with the collector failed \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/);
      expect(receiver.connections()).toBe(1);
      expect(sl.logs.filter(exportRetry)).toEqual([]);
      expect(sl.logs.filter(exportFailed)).toHaveLength(1);
    } finally {
      await sl.stop();
      await receiver.close();
    }
  });
});

describe('SIGTERM while a failed export waits for its retry', () => {
  it('exits 0 with the stopped line, the unsent spans counted as dropped', { timeout: 30_000 }, async () => {
    // The default configuration in a pod whose collector is down: nothing listens on the port.
    const sl = await startTraced(`http://127.0.0.1:${await freePort()}`);
    expect((await send(`${sl.ingress}/echo`)).status).toBe(200);
    await sl.waitForLog(exportRetry);
    expect(await sl.stop('SIGTERM')).toBe(0);
    expect(sl.logs.find((l) => l.msg === 'stopped')).toMatchObject({ code: 0 });
    const dropped = sl.logs.filter(exportFailed).map((l) => String(l.detail));
    expect(dropped).toEqual([expect.stringMatching(/^Dropped 1 spans: the collector at .* did not take them: collector unreachable \(ECONNREFUSED\)/)]);
  });

  it('reports the drops the log throttle held back before it exits', { timeout: 30_000 }, async () => {
    const sl = await startSidelight({
      config: { ingress: { app: app.url }, logging: { level: 'debug', accessLog: false } },
      env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await freePort()}`, OTEL_BSP_SCHEDULE_DELAY: '200', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '1' },
    });
    await send(`${sl.ingress}/echo`);
    await send(`${sl.ingress}/echo`);
    // The first batch is dropped after its third try, and logged; the second waits for its retry
    // (the third retry line) when SIGTERM comes, and its drop falls within the log's 10 s.
    // (Log lines arrive in batches: two retry lines may land together.)
    await until(() => sl.logs.filter(exportRetry).length >= 3, 20_000, "the second batch's first retry");
    expect(sl.logs.filter(exportFailed)).toHaveLength(1);
    expect(await sl.stop('SIGTERM')).toBe(0);
    const counts = sl.logs.filter(exportFailed).map((l) => Number(/^Dropped (\d+) spans/.exec(String(l.detail))![1]));
    expect(counts).toEqual([1, 1]);
  });

  it('counts the spans of an export the collector never answers as dropped, and still exits 0', { timeout: 30_000 }, async () => {
    const receiver = await startOtlpReceiver();
    receiver.behave({ delayMs: 20_000 });
    const sl = await startTraced(receiver.url);
    try {
      await send(`${sl.ingress}/echo`);
      await until(() => receiver.connections() === 1, 10_000, 'the export');
      await send(`${sl.ingress}/echo`); // queued behind the export in flight
      expect(await sl.stop('SIGTERM')).toBe(0);
      expect(sl.logs.find((l) => l.msg === 'stopped')).toMatchObject({ code: 0 });
      expect(sl.logs.filter(exportFailed).map((l) => String(l.detail))).toEqual([expect.stringMatching(/^Dropped 2 spans: .* the process stopped before the collector took them$/)]);
    } finally {
      await receiver.close();
    }
  });
});
