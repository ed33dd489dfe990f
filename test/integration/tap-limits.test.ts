// The tap never holds up the data path: a client that stops reading loses lines beyond
// admin.tap.maxBufferBytes, a fast one beyond admin.tap.maxLinesPerSecond, and each is told
// exactly how many it lost (received + reported lost = everything that happened).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metric } from '../helpers/egress.js';
import { send, until } from '../helpers/http.js';
import { startSidelight, type RunningSidelight } from '../helpers/sidelight.js';
import { openTap, type TapStream } from '../helpers/tap.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app?.close());

/** Sends the requests `concurrency` at a time; each must be answered 200 within a generous bound. */
async function burst(base: string, ids: string[], path: string, concurrency = 8): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++];
      const answer = await Promise.race([
        send(`${base}${path}`, { headers: { 'x-request-id': id } }),
        new Promise<never>((_, fail) => setTimeout(() => fail(new Error(`${id}: no answer within 10 s`)), 10_000).unref()),
      ]);
      expect(answer.status).toBe(200);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/**
 * Sends one request at a time until a `dropped` notice reaches the stream, then checks the
 * books: every exchange up to the one that carried the notice was either received or counted.
 */
async function settle(sl: RunningSidelight, stream: TapStream, sent: string[]): Promise<{ rate: number; slow: number; received: number }> {
  let n = 0;
  await until(async () => {
    const id = `trigger-${n++}`;
    sent.push(id);
    await send(`${sl.ingress}/echo`, { headers: { 'x-request-id': id } });
    const notice = stream.lines.findIndex((l) => l.kind === 'dropped');
    return notice !== -1 && stream.lines.length > notice + 1;
  }, 20_000, 'a dropped notice');
  const at = stream.lines.findIndex((l) => l.kind === 'dropped');
  const notice = stream.lines[at] as unknown as { rate: number; slow: number };
  const carrier = sent.indexOf(String(stream.lines[at + 1].requestId));
  const before = new Set(sent.slice(0, carrier + 1));
  const received = stream.lines.filter((l) => l.kind === 'exchange' && before.has(String(l.requestId))).length;
  // Exchanges finish out of order within a burst (8 in flight), so the ones finished before the
  // carrier are its predecessors in `sent` give or take the 7 others in flight with it.
  expect(Math.abs(received + notice.rate + notice.slow - (carrier + 1))).toBeLessThan(8);
  return { rate: notice.rate, slow: notice.slow, received };
}

describe('tap limits', () => {
  let sl: RunningSidelight;
  afterAll(() => sl?.stop());

  it('a client that stops reading loses lines past maxBufferBytes, is told how many, and the data path does not wait for it', async () => {
    sl = await startSidelight({
      config: { ingress: { app: app.url }, logging: { accessLog: false }, admin: { tap: { maxBufferBytes: 4096, maxLinesPerSecond: 1_000_000 } } },
    });
    const stalled = await openTap(sl.admin);
    stalled.pause();
    // Long paths make long lines: 1500 of them are far more than the kernel's socket buffers hold.
    const path = `/echo/${'x'.repeat(4000)}`;
    const sent = Array.from({ length: 1500 }, (_, i) => `slow-${i}`);
    await burst(sl.ingress, sent, path);
    expect(await metric(sl.admin, 'sidelight_tap_dropped_lines_total{reason="slow"}')).toBeGreaterThan(0);
    stalled.resume();
    const books = await settle(sl, stalled, sent);
    expect(books.slow).toBeGreaterThan(0);
    expect(books.received).toBeLessThan(1500);
    expect(books.rate).toBe(0);
    stalled.close();
  });

  it('a client gets at most maxLinesPerSecond; the rest are dropped and counted', async () => {
    const limited = await startSidelight({
      config: { ingress: { app: app.url }, logging: { accessLog: false }, admin: { tap: { maxLinesPerSecond: 20 } } },
    });
    try {
      const stream = await openTap(limited.admin);
      const started = Date.now();
      const sent = Array.from({ length: 300 }, (_, i) => `fast-${i}`);
      await burst(limited.ingress, sent, '/echo');
      const seconds = (Date.now() - started) / 1000;
      const received = stream.lines.filter((l) => String(l.requestId).startsWith('fast-')).length;
      // a full bucket (one second's worth) plus the refill while the burst ran
      expect(received).toBeLessThanOrEqual(20 + Math.ceil(seconds * 20) + 1);
      const books = await settle(limited, stream, sent);
      expect(books.rate).toBeGreaterThan(0);
      expect(await metric(limited.admin, 'sidelight_tap_dropped_lines_total{reason="rate"}')).toBeGreaterThanOrEqual(books.rate);
      // every line sent is counted once it reaches the client
      await until(async () => (await metric(limited.admin, 'sidelight_tap_lines_total')) === stream.lines.filter((l) => l.kind === 'exchange').length, 5_000, 'sidelight_tap_lines_total to match the lines received');
      stream.close();
    } finally {
      await limited.stop();
    }
  });
});
