// The timeout keys as `sidelight check` meets them: 0 is no limit (and check says so), except
// the egress per-try timeout, which refuses it; a config written for `timeout` alone still loads.
import { describe, expect, it } from 'vitest';
import { runCli, writeConfig } from '../helpers/sidelight.js';

describe('timeout keys in sidelight check', () => {
  it('takes 0s as no limit for ingress and route limits and egress requestTimeout, and says so', async () => {
    const file = writeConfig({
      ingress: { timeout: '0s', routeTimeouts: { '/events/*': { idleTimeout: '0s' } } },
      egress: { upstreams: { feed: { url: 'http://127.0.0.1:9', requestTimeout: '0s' } } },
    });
    const { code, stdout, stderr } = await runCli(['check', '--config', file]);
    expect(code, stderr).toBe(0);
    expect(stderr).toContain('ingress.timeout: 0 means no limit');
    expect(stderr).toContain('ingress.routeTimeouts."/events/*".idleTimeout: 0 means no limit');
    expect(stderr).toContain('egress.upstreams.feed.requestTimeout: 0 means no limit');
    const effective = JSON.parse(stdout) as { ingress: { routes: string[]; idleTimeout: string } };
    expect(effective.ingress.routes).toContain('/events/*');
    expect(effective.ingress.idleTimeout).toBe('5m');
  });

  it('refuses 0s for the egress per-try timeout, naming the key', async () => {
    const { code, stderr } = await runCli(['check', '--config', writeConfig({ egress: { upstreams: { feed: { url: 'http://127.0.0.1:9', timeout: '0s' } } } })]);
    expect(code).toBe(2);
    expect(stderr).toContain('egress.upstreams.feed.timeout: must be longer than 0');
  });

  it('names an unknown key in a route\'s limits', async () => {
    const { code, stderr } = await runCli(['check', '--config', writeConfig({ ingress: { routeTimeouts: { '/events/*': { idle: '0s' } } } })]);
    expect(code).toBe(2);
    expect(stderr).toContain('ingress.routeTimeouts./events/*.idle: unknown key');
  });
});
