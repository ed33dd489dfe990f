// A collector that is down must cost dropped spans, never failed requests or unbounded memory:
// 50k requests through a sidecar whose OTLP endpoint refuses connections.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { Pool } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { until } from '../helpers/http.js';
import { startSidelight, type LogLine, type RunningSidelight } from '../helpers/sidelight.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

let app: TestApp;
let sl: RunningSidelight;
let closedPort: number;

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
  closedPort = await unusedPort();
  sl = await startSidelight({
    config: { ingress: { app: app.url }, logging: { accessLog: false } },
    env: {
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${closedPort}`,
      OTEL_BSP_SCHEDULE_DELAY: '200',
    },
  });
});
afterAll(async () => {
  await sl?.stop();
  await app?.close();
});

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

it('serves 50k requests with the collector unreachable, drops spans and keeps memory bounded', { timeout: 300_000 }, async () => {
  const pool = new Pool(sl.ingress, { connections: 16 });
  try {
    const warm = await load(pool, 5_000, 16);
    expect(warm).toEqual(new Map([[200, 5_000]]));
    const pid = sl.proc.pid!;
    const before = rssKiB(pid);
    const rest = await load(pool, 45_000, 16);
    expect(rest).toEqual(new Map([[200, 45_000]]));
    const after = rssKiB(pid);
    // The bounded queue (2048 spans) holds a few MB: measured about +12 MB here, against about
    // +50 MB with OTEL_BSP_MAX_QUEUE_SIZE=10000000.
    expect(after - before).toBeLessThan(32 * 1024);
    // The drops are visible, in a rate-limited log line. The SDK reports them when the queue takes
    // a span again, i.e. once a failed export has freed room: keep a trickle of requests going.
    const isDropped = (l: LogLine) => l.msg === 'tracing' && /Dropped \d+ spans/.test(String(l.detail));
    await until(async () => {
      await load(pool, 10, 1);
      return sl.logs.some(isDropped);
    }, 60_000, 'a log line reporting dropped spans');
    expect(sl.logs.find(isDropped)!.level).toBe('warn');
    // …and counted, for an alert that does not depend on reading logs.
    const scrape = await (await fetch(`${sl.admin}/metrics`)).text();
    const dropped = Number(/^sidelight_trace_spans_dropped_total (\d+)/m.exec(scrape)?.[1]);
    expect(dropped).toBeGreaterThan(0);
  } finally {
    await pool.close();
  }
});
