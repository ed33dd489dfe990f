// A collector that is down, slow or failing must cost dropped spans, never failed requests,
// overlapping exports or more memory than a live one.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/http.js';
import { startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';
import { startSidelight, type LogLine, type RunningSidelight } from '../helpers/sidelight.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

let app: TestApp;

/** A loopback port that nothing listens on: bound, then released. */
async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const rssKiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app?.close();
});

function startTraced(endpoint: string, env: Record<string, string> = {}): Promise<RunningSidelight> {
  return startSidelight({
    config: { ingress: { app: app.url }, logging: { accessLog: false } },
    env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_BSP_SCHEDULE_DELAY: '200', ...env },
  });
}

async function load(pool: Pool, total: number, concurrency: number): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  let next = 0;
  const worker = async () => {
    while (next < total) {
      next++;
      const res = await pool.request({ path: '/status/200', method: 'GET' });
      await res.body.dump();
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return statuses;
}

/** `rate` requests a second for `seconds`, whatever the sidecar's speed: both runs of a comparison allocate alike. */
async function paced(pool: Pool, rate: number, seconds: number): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  const start = performance.now();
  const total = rate * seconds;
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const due = start + (next++ * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const res = await pool.request({ path: '/status/200', method: 'GET' });
      await res.body.dump();
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return statuses;
}

const scrape = async (sl: RunningSidelight) => (await fetch(`${sl.admin}/metrics`)).text();
const counter = (text: string, series: string) => Number(new RegExp(`^${series.replace(/[{}"]/g, '\\$&')} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);

describe('a dead collector', () => {
  let receiver: OtlpReceiver;
  let dead: RunningSidelight;
  let live: RunningSidelight;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    [dead, live] = await Promise.all([startTraced(`http://127.0.0.1:${await unusedPort()}`), startTraced(receiver.url)]);
  });
  afterAll(async () => {
    await Promise.all([dead?.stop(), live?.stop()]);
    await receiver?.close();
  });

  it('costs no more memory than a live one, and every request is still served', { timeout: 300_000 }, async () => {
    // RSS of a loaded V8 process saws up and down with its collections, and its heap sizing
    // depends on its history (an idle process shrinks its young generation): load both at once,
    // at the same pace, and compare the medians of RSS samples once the heap has grown.
    const rss: Record<string, number> = {};
    await Promise.all(
      ([['live', live], ['dead', dead]] as const).map(async ([name, sl]) => {
        const pool = new Pool(sl.ingress, { connections: 16 });
        const samples: number[] = [];
        const sampler = setInterval(() => samples.push(rssKiB(sl.proc.pid!)), 250);
        try {
          expect(await paced(pool, 1_000, 15)).toEqual(new Map([[200, 15_000]]));
        } finally {
          clearInterval(sampler);
          await pool.close();
        }
        const steady = samples.slice(Math.floor(samples.length / 3)).sort((a, b) => a - b);
        rss[name] = steady[Math.floor(steady.length / 2)];
      }),
    );
    // The queue holds at most OTEL_BSP_MAX_QUEUE_SIZE (2048) small records and one batch is in
    // flight: a dead collector may fill them, which is a few MB, not the tens a pile-up costs.
    expect(rss.dead - rss.live, `median RSS dead ${rss.dead} KiB vs live ${rss.live} KiB`).toBeLessThan(10 * 1024);
    const deadMetrics = await scrape(dead);
    expect(counter(deadMetrics, 'sidelight_trace_spans_dropped_total{reason="queue_full"}')).toBeGreaterThan(0);
    expect(counter(deadMetrics, 'sidelight_trace_spans_exported_total')).toBe(0);
    const liveMetrics = await scrape(live);
    await until(async () => counter(await scrape(live), 'sidelight_trace_spans_exported_total') === 15_000, 20_000, 'all live spans exported');
    expect(counter(liveMetrics, 'sidelight_trace_spans_dropped_total{reason="queue_full"}')).toBe(0);
  });

  it('says so in the log at most once per kind every 10 s, with how many spans were lost', { timeout: 60_000 }, async () => {
    const pool = new Pool(dead.ingress, { connections: 4 });
    const isDropped = (l: LogLine) => l.msg === 'tracing' && l.kind === 'queue_full';
    try {
      // Keep spans coming past the 10 s window, so a second report is due.
      const first = await until(async () => {
        await load(pool, 200, 4);
        return dead.logs.find(isDropped);
      }, 30_000, 'a log line reporting dropped spans');
      await until(async () => {
        await load(pool, 200, 4);
        return dead.logs.filter(isDropped).length >= 2;
      }, 30_000, 'a second report');
      const reports = dead.logs.filter(isDropped);
      expect(first.level).toBe('warn');
      for (const r of reports) expect(String(r.detail)).toMatch(/^Dropped \d+ spans: the export queue \(OTEL_BSP_MAX_QUEUE_SIZE=2048\) was full/);
      // Hundreds of drops between the two lines, reported as one count on the second.
      expect(Number(/^Dropped (\d+)/.exec(String(reports[1].detail))![1])).toBeGreaterThan(100);
      expect(Date.parse(String(reports[1].time)) - Date.parse(String(reports[0].time))).toBeGreaterThanOrEqual(10_000);
      expect(dead.logs.filter((l) => l.msg === 'tracing' && l.kind === 'export_failed').length).toBeLessThanOrEqual(reports.length + 1);
    } finally {
      await pool.close();
    }
  });
});

describe('a slow or failing collector', () => {
  it('gets one export at a time, and a failed batch is retried', { timeout: 120_000 }, async () => {
    const receiver = await startOtlpReceiver();
    const sl = await startTraced(receiver.url, { OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '50', OTEL_BSP_SCHEDULE_DELAY: '20' });
    const pool = new Pool(sl.ingress, { connections: 8 });
    try {
      // Slow: each export takes 150 ms while batches keep filling.
      receiver.behave({ delayMs: 150 });
      await load(pool, 1_000, 8);
      await receiver.waitFor((spans) => spans.length >= 1_000, 60_000, 'every span of the slow run');
      // Failing: the collector answers 503 for a while; the batch comes again once it recovers.
      receiver.behave({ status: 503 });
      const before = receiver.requests.length;
      await load(pool, 40, 4);
      await until(() => receiver.requests.length >= before + 2, 20_000, 'a retried export');
      receiver.behave({});
      await receiver.waitFor((spans) => spans.length >= 1_040, 30_000, 'the retried batch');
      expect(receiver.maxConcurrent()).toBe(1);
    } finally {
      await pool.close();
      await sl.stop();
      await receiver.close();
    }
  });
});
