/// <reference lib="dom" />
// The admin page (GET /) in a real headless Chromium: it loads with every request on the admin
// origin, its charts fill once traffic flows, it asks for the admin token when one is set, and
// clicking "open" on a breaker opens it in the admin API. SIDELIGHT_SCREENSHOT=FILE saves a
// screenshot (the README's comes from here).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'puppeteer-core';
import { launchChromium } from '../helpers/browser.js';
import { breakerState } from '../helpers/egress.js';
import { send, until } from '../helpers/http.js';
import { startSidelight, type RunningSidelight } from '../helpers/sidelight.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { CHROMIUM, missing } from '../helpers/tools.js';

const chromiumMissing = missing(CHROMIUM);
if (chromiumMissing) console.warn(`SKIPPED test/e2e/admin-page.test.ts: ${chromiumMissing}`);

const TOKEN = 'page-test-token';

describe.skipIf(chromiumMissing)('the admin page in a real browser', () => {
  let app: TestApp;
  let sl: RunningSidelight;
  let chromium: Awaited<ReturnType<typeof launchChromium>>;
  let page: Page;
  const requested: string[] = [];
  const problems: string[] = [];
  let running = true;
  let traffic: Promise<void> = Promise.resolve();

  beforeAll(async () => {
    app = await startTestApp();
    sl = await startSidelight({
      env: { SIDELIGHT_ADMIN_TOKEN: TOKEN },
      config: {
        ingress: { app: app.url, routes: ['/echo', '/slow', '/status/:code'], rateLimit: { rps: 10_000, key: 'client' } },
        egress: { upstreams: { stripe: { url: app.url, retry: { attempts: 0 }, rateLimit: { rps: 1000, maxWait: '1s' } } } },
      },
    });
    chromium = await launchChromium();
    page = await chromium.browser.newPage();
    await page.setViewport({ width: 1280, height: 1000 });
    page.on('request', (r) => requested.push(r.url()));
    page.on('pageerror', (e) => problems.push(`page error: ${(e as Error).message}`));
    page.on('console', (m) => {
      // 401s are the page learning that a token is needed; anything else (a CSP refusal) is a fault.
      if (m.type() === 'error' && !m.text().includes('401')) problems.push(m.text());
    });
    // A steady trickle, so each poll of /stats sees traffic in its 10 s window.
    traffic = (async () => {
      for (let i = 0; running; i++) {
        await Promise.all([
          send(`${sl.ingress}/echo`),
          send(`${sl.ingress}/slow?ms=${20 + (i % 5) * 20}`),
          send(`${sl.egress}/stripe/echo`),
          i % 4 === 0 ? send(`${sl.ingress}/status/503`) : Promise.resolve(),
        ]);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
  });

  afterAll(async () => {
    running = false;
    await traffic;
    await chromium?.close();
    await sl?.stop();
    await app?.close();
  });

  it('loads from the admin port alone and fills its charts from the traffic', async () => {
    await page.goto(`${sl.admin}/`);
    expect(await page.title()).toBe('sidelight admin');
    await page.waitForFunction(
      () => {
        const card = document.querySelector('[data-key="route:/echo"]');
        const svg = card?.querySelector('svg');
        const rate = card?.querySelector('path.rate')?.getAttribute('d') ?? '';
        // at least three points, and a rate above the zero line (y < 100) somewhere
        return Number(svg?.getAttribute('data-points')) >= 3 && /[ML][\d.]+ (?!100(?:\.0)?(?:[ML]|$))[\d.]+/.test(rate);
      },
      { timeout: 20_000 },
    );
    const upstreamCard = await page.$eval('[data-key="upstream:stripe"] .figures', (e) => e.textContent ?? '');
    expect(upstreamCard).toMatch(/[\d.]+ req\/s/);
    const latency = await page.$eval('[data-key="route:/slow"] path.p99', (e) => e.getAttribute('d') ?? '');
    expect(latency).toMatch(/^M/);
    expect(await page.$eval('#state', (e) => e.textContent)).toContain('ready');
    // the limiters' state: the upstream's tokens and waits, the ingress limit's keys
    const limits = await page.$$eval('#rate-limits tr', (rows) => rows.map((r) => Array.from(r.querySelectorAll('td'), (td) => td.textContent)));
    expect(limits.map((cells) => cells.slice(0, 3))).toEqual([
      ['upstream stripe', '1000', '1000'],
      ['ingress ingress.rateLimit', '10000', '10000'],
    ]);
    expect(limits[1][8]).toBe('1');
  });

  it('asks for the token; with it, "open" on a breaker opens it in the admin API and the failed exchanges appear', async () => {
    await page.waitForSelector('#token-panel:not([hidden])', { timeout: 10_000 }); // the tap said 401
    await page.click('tr[data-upstream="stripe"] button[data-action="open"]');
    await until(async () => (await page.$eval('#token-message', (e) => e.textContent)) === 'Changing a breaker needs the admin token.', 5_000, 'the token prompt');
    expect((await breakerState(sl.admin, 'stripe')).state).toBe('closed');
    await page.type('#token', TOKEN);
    await page.click('#token-form button[type="submit"]');
    await until(async () => (await breakerState(sl.admin, 'stripe')).state === 'open', 10_000, 'the breaker to open');
    await page.waitForFunction(() => document.querySelector('tr[data-upstream="stripe"] .badge')?.textContent === 'open', { timeout: 10_000 });
    // the tap reconnected with the token: failures (5xx, and now circuit_open on egress) show up
    await page.waitForFunction(() => document.querySelector('#failures')?.textContent?.includes('circuit_open'), { timeout: 15_000 });
    expect(await page.$eval('#failures', (e) => e.textContent)).toContain('503');

    if (process.env.SIDELIGHT_SCREENSHOT) await page.screenshot({ path: process.env.SIDELIGHT_SCREENSHOT, fullPage: true });
  });

  it('opened again, lists the failures from before it was opened, and lists the tunnels per upstream', async () => {
    running = false;
    await traffic;
    // No traffic any more: only the failures sidelight kept can fill the table.
    await page.reload();
    await page.waitForFunction(() => (document.querySelector('#failures')?.children.length ?? 0) > 0, { timeout: 10_000 });
    expect(await page.$eval('#failures', (e) => e.textContent)).toContain('503');
    const tunnels = await page.$$eval('tr[data-tunnels="stripe"] td', (tds) => tds.map((td) => td.textContent));
    expect(tunnels.slice(0, 2)).toEqual(['stripe', '0']);
  });

  it('draws the figures it was served with, before any poll of /stats answers', async () => {
    const other = await chromium.browser.newPage();
    await other.setRequestInterception(true);
    other.on('request', (r) => (new URL(r.url()).pathname === '/stats' ? r.abort() : r.continue()));
    await other.goto(`${sl.admin}/`, { waitUntil: 'domcontentloaded' });
    expect(await other.$eval('#routes', (e) => e.textContent)).not.toContain('waiting for /stats');
    expect(await other.$('[data-key="route:/echo"]')).not.toBeNull();
    expect(await other.$eval('#state', (e) => e.textContent)).toContain('ready');
    await other.close();
  });

  it('made no request anywhere but the admin port, and nothing was refused by its security policy', () => {
    const origin = new URL(sl.admin).origin;
    expect(requested.length).toBeGreaterThan(3);
    expect(requested.filter((u) => !u.startsWith(`${origin}/`))).toEqual([]);
    expect(problems).toEqual([]);
  });
});
