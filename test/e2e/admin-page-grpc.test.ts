/// <reference lib="dom" />
// The admin page in a real headless Chromium in front of a gRPC app: no gRPC section while only
// HTTP flows; with gRPC calls, a card per method with its rate, latency and status names, and
// the calls that ended with a server fault among the failed exchanges, with their status.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'puppeteer-core';
import { launchChromium } from '../helpers/browser.js';
import { echoClient, grpc, sayVia, startGrpcApp, type EchoClient, type GrpcApp } from '../helpers/grpc-app.js';
import { send } from '../helpers/http.js';
import { startSidelight, type RunningSidelight } from '../helpers/sidelight.js';
import { CHROMIUM, missing } from '../helpers/tools.js';

const chromiumMissing = missing(CHROMIUM);
if (chromiumMissing) console.warn(`SKIPPED test/e2e/admin-page-grpc.test.ts: ${chromiumMissing}`);

const CARD = '[data-key="grpc:sidelight.test.v1.Echo/Say"]';

describe.skipIf(chromiumMissing)('the admin page with gRPC traffic', () => {
  let app: GrpcApp;
  let sl: RunningSidelight;
  let client: EchoClient;
  let chromium: Awaited<ReturnType<typeof launchChromium>>;
  let page: Page;
  const problems: string[] = [];
  let running = true;
  let traffic: Promise<void> = Promise.resolve();

  beforeAll(async () => {
    app = await startGrpcApp();
    sl = await startSidelight({ config: { ingress: { app: app.url } } });
    client = echoClient(sl.ingress.replace(/^http:\/\//, ''));
    chromium = await launchChromium();
    page = await chromium.browser.newPage();
    await page.setViewport({ width: 1280, height: 1000 });
    page.on('pageerror', (e) => problems.push(`page error: ${(e as Error).message}`));
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
  });

  afterAll(async () => {
    running = false;
    await traffic;
    client?.close();
    await chromium?.close();
    await sl?.stop();
    await app?.close();
  });

  it('shows no gRPC section while only HTTP requests flow', async () => {
    await send(`${sl.ingress}/plain`);
    await page.goto(`${sl.admin}/`);
    expect(await page.title()).toBe('sidelight admin');
    expect(await page.$eval('#grpc-section', (e) => (e as HTMLElement).hidden)).toBe(true);
  });

  it('draws a card per gRPC method with its status names, and lists the server faults among the failures', async () => {
    // A steady trickle of OK calls with an UNAVAILABLE one in four, so each poll sees traffic in its 10 s window.
    traffic = (async () => {
      for (let i = 0; running; i++) {
        await sayVia(client, i % 4 === 0 ? { failCode: grpc.status.UNAVAILABLE } : { message: 'hi' }).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await page.waitForFunction((card) => !!document.querySelector(`${card} .statuses`)?.textContent?.includes('UNAVAILABLE'), { timeout: 20_000 }, CARD);
    expect(await page.$eval('#grpc-section', (e) => (e as HTMLElement).hidden)).toBe(false);
    expect(await page.$eval(`${CARD} h3`, (e) => e.textContent)).toBe('sidelight.test.v1.Echo/Say');
    const figures = await page.$eval(`${CARD} .figures`, (e) => e.textContent ?? '');
    expect(figures).toMatch(/[\d.]+ req\/s/);
    expect(figures).toMatch(/OK \d+/);
    const badges = await page.$$eval(`${CARD} .statuses .badge`, (els) => els.map((e) => [e.textContent, e.className]));
    expect(badges.find(([text]) => text?.startsWith('OK '))?.[1]).toBe('badge ok');
    expect(badges.find(([text]) => text?.startsWith('UNAVAILABLE '))?.[1]).toBe('badge warn');
    // The tap feeds the failed-exchanges table: the UNAVAILABLE calls answered HTTP 200.
    await page.waitForFunction(() => document.querySelector('#failures')?.textContent?.includes('200 UNAVAILABLE'), { timeout: 15_000 });
    const row = await page.$$eval('#failures tr', (rows) => rows.map((r) => Array.from(r.querySelectorAll('td'), (td) => td.textContent))[0]);
    expect(row.slice(1, 5)).toEqual(['ingress', 'POST', '/sidelight.test.v1.Echo/Say', '200 UNAVAILABLE']);
    expect(problems).toEqual([]);
  });
});
