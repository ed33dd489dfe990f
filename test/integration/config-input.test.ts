// What the command line and the config file accept, as a user types them: a bare port, URLs,
// durations, ${VAR}s, upstream names, `check` with run's flags, and the messages for the rest.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/prometheus.js';
import { runCli, startSidelight, writeConfig, type RunningSidelight } from '../helpers/sidelight.js';

type Effective = Record<string, Record<string, unknown>>;

const STACK = /\n\s+at .+:\d+/;

async function check(args: string[], env: Record<string, string> = {}): Promise<Effective> {
  const { code, stdout, stderr } = await runCli(['check', ...args], env);
  expect(code, stderr).toBe(0);
  return JSON.parse(stdout) as Effective;
}

/** exit 2, every fragment on stderr, no stack trace, nothing on stdout */
async function refused(args: string[], ...fragments: string[]): Promise<string> {
  const { code, stdout, stderr } = await runCli(args);
  expect(code, stderr).toBe(2);
  for (const f of fragments) expect(stderr).toContain(f);
  expect(stderr).not.toMatch(STACK);
  expect(stdout).toBe('');
  return stderr;
}

describe('listen addresses', () => {
  const started: RunningSidelight[] = [];
  afterAll(() => Promise.all(started.map((s) => s.stop())));

  it('a bare port is that port, on the interface of the key default', async () => {
    const config = await check(['--ingress', '15080', '--egress', '16081', '--admin', '16090']);
    expect(config.ingress.listen).toBe('0.0.0.0:15080');
    expect(config.egress.listen).toBe('127.0.0.1:16081');
    expect(config.admin.listen).toBe('0.0.0.0:16090');
  });

  it('`run --egress PORT` listens on 127.0.0.1:PORT', async () => {
    const port = await freePort();
    const sl = await startSidelight({ args: ['--app', 'http://127.0.0.1:9', '--egress', String(port)] });
    started.push(sl);
    expect(sl.egress).toBe(`http://127.0.0.1:${port}`);
  });

  it('a port in use is not a config error: it names the address and the key, exit 1', async () => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as { port: number }).port;
    try {
      const { code, stderr } = await runCli(['run', '--ingress', `127.0.0.1:${port}`, '--egress', '127.0.0.1:0', '--admin', '127.0.0.1:0']);
      expect(code, stderr).toBe(1);
      expect(stderr).toBe(`sidelight: cannot listen on 127.0.0.1:${port} (ingress.listen): address already in use\n`);
    } finally {
      await new Promise((r) => holder.close(r));
    }
  });
});

describe('URLs', () => {
  it('refuses an app URL with a path, which would be ignored, naming ingress.app', async () => {
    const hint = 'write "http://127.0.0.1:16080"';
    await refused(['check', '--app', 'http://127.0.0.1:16080/base'], 'ingress.app', '"http://127.0.0.1:16080/base"', hint);
    await refused(['run', '--app', 'http://127.0.0.1:16080/base', '--ingress', '127.0.0.1:0', '--egress', '127.0.0.1:0', '--admin', '127.0.0.1:0'], 'ingress.app', hint);
  });

  it('refuses an upstream URL with a path the same way', () =>
    refused(['check', '--upstream', 'stripe=https://api.stripe.com/v1'], 'egress.upstreams.stripe.url', 'write "https://api.stripe.com"'));
});

describe('`sidelight check` shows what `run` would use', () => {
  it('reads SIDELIGHT_CONFIG like run', async () => {
    const config = await check([], { SIDELIGHT_CONFIG: writeConfig({ service: 'from-env-file' }) });
    expect(config.service).toBe('from-env-file');
  });

  it("takes run's flags over the file", async () => {
    const file = writeConfig({ service: 'checkout', ingress: { app: 'http://127.0.0.1:1111' } });
    const config = await check(['--config', file, '--app', 'http://127.0.0.1:3333', '--upstream', 'stripe=https://api.stripe.com', '--log-level', 'warn']);
    expect(config.service).toBe('checkout');
    expect(config.ingress.app).toBe('http://127.0.0.1:3333');
    expect(config.egress.upstreams).toMatchObject({ stripe: { url: 'https://api.stripe.com' } });
    expect(config.logging.level).toBe('warn');
  });
});

describe('durations', () => {
  it.each(['10 seconds', '5 mins', '2 days', '100 years', '10S', '30', '1.5 s', '25h'])('refuses "%s" with the grammar or the limit', async (text) => {
    const stderr = await refused(['check', '--config', writeConfig({ drain: { timeout: text } })], `drain.timeout: invalid duration "${text}"`);
    expect(stderr).toMatch(/write a number and a unit \(ms, s, m or h\), e\.g\. "250ms", "1\.5s", "5m", "1h"|at most 24h/);
  });

  it('shows each as written, defaults in the same grammar', async () => {
    const config = await check(['--config', writeConfig({ drain: { timeout: '1.5s', delay: '1.5m' }, readiness: { interval: '250ms', timeout: '2h' } })]);
    expect(config.drain).toEqual({ timeout: '1.5s', delay: '1.5m' });
    expect(config.readiness).toMatchObject({ interval: '250ms', timeout: '2h' });
    expect(config.ingress.timeout).toBe('30s');
  });
});

describe('config file values', () => {
  it('an unset ${VAR} that leaves a key invalid is named', () =>
    refused(['check', '--config', writeConfig({ ingress: { app: '${APP_URL}' } })], 'ingress.app: ${APP_URL} is not set: invalid URL ""'));

  it("an upstream name against the naming rule shows the rule, from a flag and from the file", async () => {
    const rule = 'upstream names are lowercase letters, digits, "-" and "_"';
    await refused(['check', '--upstream', 'Stripe=https://api.stripe.com'], 'egress.upstreams.Stripe: "Stripe" is not a valid name', rule);
    await refused(['check', '--config', writeConfig({ egress: { upstreams: { 'api.stripe': { url: 'https://api.stripe.com' } } } })], '"api.stripe" is not a valid name', rule);
  });

  it('invalid YAML is one line naming the file, line and column', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sidelight-cfg-')), 'sidelight.yaml');
    writeFileSync(file, 'ingress:\n  app: [unclosed\n');
    const stderr = await refused(['check', '--config', file]);
    expect(stderr).toMatch(new RegExp(`^sidelight: config error:\\n  config: "${file}" line 3, column 1: not valid YAML or JSON: [^\\n]*[^:\\n]\\n$`));
  });
});

describe('`sidelight tap`', () => {
  it('refuses an unknown --listener before connecting, naming the listeners', () =>
    refused(['tap', '--admin', 'http://127.0.0.1:1', '--listener', 'foo'], '--listener: "foo" is not a listener: use ingress, egress or egress:NAME'));
});
