// `sidelight tap` and `sidelight stat` as a user runs them, against a running sidelight: the
// aligned lines and tables, colour only when asked for (stdout is a pipe here), filters, the
// token, and one clear message with the right exit code when something is wrong.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send, until } from '../helpers/http.js';
import { startCli } from '../helpers/live-cli.js';
import { runCli, startSidelight, type RunningSidelight } from '../helpers/sidelight.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

const TOKEN = 'cli-test-token';
const ANSI = /\x1b\[/;

let app: TestApp;
let sl: RunningSidelight;

beforeAll(async () => {
  app = await startTestApp();
  sl = await startSidelight({
    env: { SIDELIGHT_ADMIN_TOKEN: TOKEN },
    config: {
      ingress: { app: app.url, routes: ['/echo', '/status/:code'] },
      egress: { upstreams: { backend: { url: app.url, retry: { attempts: 0 } } } },
    },
  });
});
afterAll(async () => {
  await sl?.stop();
  await app?.close();
});

describe('sidelight tap', () => {
  it('prints one aligned plain line per exchange when piped, with the filters applied by the server', async () => {
    const tap = startCli(['tap', '--admin', sl.admin, '--listener', 'ingress'], { SIDELIGHT_ADMIN_TOKEN: TOKEN });
    try {
      await until(() => tap.stderr().includes('tapping'), 10_000, 'the tap to connect');
      await send(`${sl.egress}/backend/echo`, { headers: { 'x-request-id': 'cli-egress' } });
      await send(`${sl.ingress}/status/503?secret=1`, { headers: { 'x-request-id': 'cli-503' } });
      await send(`${sl.ingress}/echo`, { headers: { 'x-request-id': 'cli-echo' } });
      await tap.waitForStdout(/id=cli-echo/);
      const lines = tap.stdout().trim().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} {2}ingress {8}GET {5}503 +[\d.]+ms {2}app {8}\/status\/503 {2}id=cli-503$/);
      expect(lines[1]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} {2}ingress {8}GET {5}200 +[\d.]+ms {2}app {8}\/echo {2}id=cli-echo$/);
      // the status column starts at the same place on every line
      expect(lines[0].indexOf('503')).toBe(lines[1].indexOf('200'));
      expect(tap.stdout()).not.toMatch(ANSI);
      expect(tap.stdout()).not.toContain('cli-egress');
    } finally {
      await tap.stop();
    }
  });

  it('colours the status when colour is forced, and --json passes the records through', async () => {
    const coloured = startCli(['tap', '--admin', sl.admin, '--token', TOKEN, '--status', '5xx'], { FORCE_COLOR: '1' });
    const json = startCli(['tap', '--admin', sl.admin, '--token', TOKEN, '--failed', '--json']);
    try {
      await until(() => coloured.stderr().includes('tapping') && json.stderr().includes('tapping'), 10_000, 'both taps to connect');
      await send(`${sl.ingress}/status/200`, { headers: { 'x-request-id': 'cli-ok' } });
      await send(`${sl.ingress}/status/500`, { headers: { 'x-request-id': 'cli-500' } });
      await coloured.waitForStdout(/cli-500/);
      expect(coloured.stdout()).toContain('\x1b[31m500\x1b[39m');
      expect(coloured.stdout()).not.toContain('cli-ok');
      const line = await json.waitForStdout(/^\{.*"cli-500".*\}$/m);
      expect(JSON.parse(line)).toMatchObject({ kind: 'exchange', status: 500, route: '/status/:code', requestId: 'cli-500' });
      expect(json.stdout()).not.toContain('cli-ok');
    } finally {
      await Promise.all([coloured.stop(), json.stop()]);
    }
  });

  it('says what is wrong and exits 2 for a bad URL, flag, filter or token; 1 when the admin port is down', async () => {
    const noToken = await runCli(['tap', '--admin', sl.admin]);
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toMatch(/^sidelight: \/tap: 401 .*SIDELIGHT_ADMIN_TOKEN or --token\)\n$/);
    const badUrl = await runCli(['tap', '--admin', 'ftp://example']);
    expect(badUrl).toMatchObject({ code: 2, stderr: 'sidelight: --admin: "ftp://example" is not an admin URL (e.g. http://127.0.0.1:15090)\n' });
    const badFilter = await runCli(['tap', '--admin', sl.admin, '--token', TOKEN, '--status', '9xx']);
    expect(badFilter.code).toBe(2);
    expect(badFilter.stderr).toContain('status: "9xx" is neither a code (503) nor a class (5xx)');
    expect((await runCli(['tap', '--bogus'])).code).toBe(2);
    const down = await runCli(['tap', '--admin', 'http://127.0.0.1:1']);
    expect(down.code).toBe(1);
    expect(down.stderr).toBe("sidelight: cannot reach sidelight's admin port at http://127.0.0.1:1: ECONNREFUSED\n");
    for (const r of [noToken, badUrl, badFilter, down]) expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('sidelight stat', () => {
  it('prints a table per route and per upstream, numbers right-aligned under their headers', async () => {
    for (let i = 0; i < 10; i++) await send(`${sl.ingress}/echo`);
    await send(`${sl.ingress}/status/500`);
    for (let i = 0; i < 4; i++) await send(`${sl.egress}/backend/echo`);
    await until(async () => {
      const doc = JSON.parse((await runCli(['stat', '--admin', sl.admin, '--json'])).stdout);
      return doc.routes.some((r: { route: string; '1m': { requests: number } }) => r.route === '/echo' && r['1m'].requests >= 10);
    }, 10_000, 'the stats to show the traffic');
    const { code, stdout, stderr } = await runCli(['stat', '--admin', sl.admin]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).not.toMatch(ANSI);
    const lines = stdout.split('\n');
    expect(lines[0]).toMatch(/^sidelight ready · in flight: ingress \d+, egress \d+ · window 1m · /);
    const header = lines.find((l) => l.startsWith('ROUTE (ingress)'))!;
    const echo = lines.find((l) => l.startsWith('/echo '))!;
    expect(echo).toMatch(/^\/echo +[\d.]+ +100\.00% +[\d.]+m?s +[\d.]+m?s +[\d.]+m?s +-$/);
    // earlier tests sent 200s and 5xx on this route: less than 100 % succeeded
    expect(lines.find((l) => l.startsWith('/status/:code '))).toMatch(/ +(?!100\.00%)\d+\.\d\d% /);
    expect(echo.indexOf('100.00%') + '100.00%'.length).toBe(header.indexOf('SUCCESS') + 'SUCCESS'.length);
    expect(lines.find((l) => l.startsWith('backend '))).toMatch(/^backend +closed +0 +[\d.]+ +100\.00% /);
  });

  it('--watch prints a report every --interval; --window must be 10s or 1m', async () => {
    const watch = startCli(['stat', '--admin', sl.admin, '--watch', '--interval', '200ms', '--window', '10s']);
    try {
      await until(() => (watch.stdout().match(/^ROUTE \(ingress\)/gm) ?? []).length >= 2, 10_000, 'two reports');
      expect(watch.stdout()).toContain('window 10s');
      expect(watch.stdout()).not.toMatch(ANSI);
    } finally {
      await watch.stop();
    }
    const bad = await runCli(['stat', '--admin', sl.admin, '--window', '5m']);
    expect(bad).toMatchObject({ code: 2, stderr: 'sidelight: --window: "5m" must be 10s or 1m\n' });
  });
});
