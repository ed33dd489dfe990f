// Config errors as a user meets them: one message naming the key, exit 2, never a stack trace;
// `sidelight check` and GET /config show the effective config with secrets redacted.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { send, until } from '../helpers/http.js';
import { runCli, startSidelight, writeConfig, type RunningSidelight } from '../helpers/sidelight.js';

const STACK = /\n\s+at .+:\d+/;

function rawFile(text: string, name = 'sidelight.yaml'): string {
  const file = join(mkdtempSync(join(tmpdir(), 'sidelight-cfg-')), name);
  writeFileSync(file, text);
  return file;
}

async function expectConfigError(args: string[], ...fragments: string[]) {
  const { code, stderr, stdout } = await runCli(args);
  expect(code, stderr).toBe(2);
  for (const f of fragments) expect(stderr).toContain(f);
  expect(stderr).not.toMatch(STACK);
  expect(stdout).toBe('');
}

describe('bad config', () => {
  it('names an unknown key', () =>
    expectConfigError(['check', '--config', writeConfig({ ingress: { app: 'http://127.0.0.1:8080', tiemout: '5s' } })], 'ingress.tiemout: unknown key'));

  it('names a bad duration', () =>
    expectConfigError(['check', '--config', writeConfig({ drain: { timeout: '10 parsecs' } })], 'drain.timeout', 'invalid duration "10 parsecs"'));

  it('names a bad egress.tunnels key', async () => {
    await expectConfigError(['check', '--config', writeConfig({ egress: { tunnels: { idleTimeout: 'forever' } } })], 'egress.tunnels.idleTimeout', 'invalid duration "forever"');
    await expectConfigError(['check', '--config', writeConfig({ egress: { tunnels: { idleTimeout: '0s' } } })], 'egress.tunnels.idleTimeout: must be longer than 0');
    await expectConfigError(['check', '--config', writeConfig({ egress: { tunnels: { enable: false } } })], 'egress.tunnels.enable: unknown key');
  });

  it('says what a key expects, in words, for a wrong type, range or option', () =>
    expectConfigError(
      ['check', '--config', writeConfig({ limits: { maxInflight: 0 }, tracing: { exporter: 'jaeger' }, metrics: { enabled: 'no' } })],
      'limits.maxInflight: Too small: expected number to be >=1',
      'tracing.exporter: Invalid option: expected one of "otlp"|"console"|"none"',
      'metrics.enabled: Invalid input: expected boolean, received string',
    ));

  it('names a bare number where a duration is wanted', () =>
    expectConfigError(['check', '--config', writeConfig({ ingress: { timeout: 30 } })], 'ingress.timeout'));

  it('names a bad URL, from the file and from a flag', async () => {
    await expectConfigError(['check', '--config', writeConfig({ ingress: { app: 'ftp://example.com' } })], 'ingress.app', 'invalid URL');
    await expectConfigError(['run', '--app', 'not a url'], 'ingress.app', 'invalid URL');
  });

  it('names bad rate limits and derived counters', async () => {
    const bad = (config: Record<string, unknown>, ...fragments: string[]) => expectConfigError(['check', '--config', writeConfig(config)], ...fragments);
    await bad({ ingress: { routes: [{ path: '/login', rateLimit: { rps: 0 } }] } }, 'ingress.routes[0].rateLimit.rps: must be more than 0');
    await bad({ ingress: { rateLimit: { rps: 5, key: 'cookie' } } }, 'ingress.rateLimit.key: must be "none", "client" or "header:NAME"');
    await bad({ egress: { upstreams: { twilio: { url: 'https://api.twilio.com', rateLimit: { rps: 5, maxWait: 'soon' } } } } }, 'egress.upstreams.twilio.rateLimit.maxWait', 'invalid duration "soon"');
    await bad({ egress: { upstreams: { twilio: { url: 'https://api.twilio.com', breaker: { failureStatuses: [429, 404] } } } } }, 'failureStatuses[1]: must be 429 or a status from 500 to 599');
    await bad({ metrics: { counters: { sidelight_sms_total: { status: '2xx' } } } }, 'metrics.counters.sidelight_sms_total', "are sidelight's own");
    await bad({ metrics: { counters: { '9lives': { status: '2xx' } } } }, 'metrics.counters.9lives', 'must be a Prometheus metric name');
    await bad({ metrics: { counters: { sms_total: { status: '2xy' } } } }, 'metrics.counters.sms_total.status');
    await bad(
      { egress: { upstreams: { twilio: { url: 'https://api.twilio.com', routes: ['/a'] } } }, metrics: { counters: { sms_total: { upstream: 'twilio', route: '/b' } } } },
      'metrics.counters.sms_total.route: "/b" is not in egress.upstreams.twilio.routes',
    );
  });

  it('names a bad listen address', () =>
    expectConfigError(['check', '--config', writeConfig({ admin: { listen: '127.0.0.1:99999' } })], 'admin.listen', 'invalid listen address'));

  it('names a missing file and invalid YAML', async () => {
    await expectConfigError(['check', '--config', '/nonexistent/sidelight.yaml'], '/nonexistent/sidelight.yaml', 'ENOENT');
    await expectConfigError(['check', '--config', rawFile('ingress:\n  app: [unclosed\n')], 'not valid YAML');
  });

  it('names a bad --upstream flag and an unknown flag (usage errors are exit 2 too)', async () => {
    await expectConfigError(['run', '--upstream', 'stripe'], '--upstream', 'NAME=URL');
    const { code, stderr } = await runCli(['run', '--no-such-flag']);
    expect(code).toBe(2);
    expect(stderr).toContain('--no-such-flag');
  });
});

describe('effective config', () => {
  const started: RunningSidelight[] = [];
  afterAll(() => Promise.all(started.map((s) => s.stop())));

  it('`sidelight check` prints it with defaults filled in and admin.token redacted', async () => {
    const file = writeConfig({ service: 'checkout', admin: { token: '${MY_ADMIN_TOKEN}' }, ingress: { timeout: '5s' } });
    const { code, stdout, stderr } = await runCli(['check', '--config', file], { MY_ADMIN_TOKEN: 'very-secret-token' });
    expect(code, stderr).toBe(0);
    const config = JSON.parse(stdout) as Record<string, Record<string, unknown>>;
    expect(config.service).toBe('checkout');
    expect(config.admin.token).toBe('[redacted]');
    expect(config.ingress).toMatchObject({ listen: '0.0.0.0:15080', app: 'http://127.0.0.1:8080', timeout: '5s' });
    expect(config.egress.listen).toBe('127.0.0.1:15081');
    expect(config.egress.tunnels).toEqual({ enabled: true, idleTimeout: '5m' });
    expect(stdout).not.toContain('very-secret-token');
  });

  it('flags beat SIDELIGHT_* environment, which beats the file', async () => {
    const file = writeConfig({ ingress: { app: 'http://127.0.0.1:1111' }, logging: { level: 'warn' } });
    const sl = await startSidelight({ config: file, args: ['--app', 'http://127.0.0.1:3333'], env: { SIDELIGHT_APP: 'http://127.0.0.1:2222', SIDELIGHT_LOG_LEVEL: 'info' } });
    started.push(sl);
    const config = JSON.parse((await send(`${sl.admin}/config`)).body) as Record<string, Record<string, unknown>>;
    expect(config.ingress.app).toBe('http://127.0.0.1:3333');
    expect(config.logging.level).toBe('info');
  });

  it('GET /config redacts the admin token and /health reports the process', async () => {
    const sl = await startSidelight({ args: ['--app', 'http://127.0.0.1:9'], env: { SIDELIGHT_ADMIN_TOKEN: 'env-secret-token' } });
    started.push(sl);
    const res = await send(`${sl.admin}/config`);
    expect(res.status).toBe(200);
    expect(res.body).not.toContain('env-secret-token');
    expect((JSON.parse(res.body) as { admin: { token: string } }).admin.token).toBe('[redacted]');

    const health = JSON.parse((await send(`${sl.admin}/health`)).body) as Record<string, unknown>;
    expect(health).toMatchObject({ version: expect.any(String), draining: false, uptimeSeconds: expect.any(Number) });
    expect(['ok', 'not_ready']).toContain(health.status);
    expect(health.memoryMB).toMatchObject({ rss: expect.any(Number), heapUsed: expect.any(Number) });
    expect(health.cpuSeconds).toMatchObject({ user: expect.any(Number), system: expect.any(Number) });
    expect(health.eventLoopLagMs).toMatchObject({ p50: expect.any(Number), p99: expect.any(Number) });
    expect(health.checks).toMatchObject({ startup: 'ok', draining: 'ok' });
  });

  it('/health reports the event-loop lag beyond the sampling interval: an idle process is near 0 ms', async () => {
    const sl = await startSidelight({ args: ['--app', 'http://127.0.0.1:9'] });
    started.push(sl);
    type Lag = { p50: number; p99: number; max: number };
    const lag = async () => (JSON.parse((await send(`${sl.admin}/health`)).body) as { uptimeSeconds: number; eventLoopLagMs: Lag }).eventLoopLagMs;
    // Let the monitor take a second of samples of an idle loop.
    await until(async () => (JSON.parse((await send(`${sl.admin}/health`)).body) as { uptimeSeconds: number }).uptimeSeconds >= 2, 10_000, 'two seconds up');
    const idle = await lag();
    // The monitor's own interval (20 ms) used to be reported as lag; a loaded machine adds a few ms at most.
    expect(idle.p50).toBeGreaterThanOrEqual(0);
    expect(idle.p50).toBeLessThan(10);
  });

  it('the example config in deploy/examples passes `sidelight check`', async () => {
    const file = fileURLToPath(new URL('../../deploy/examples/sidelight.yaml', import.meta.url));
    const { code, stderr } = await runCli(['check', '--config', file]);
    expect(code, stderr).toBe(0);
  });
});
