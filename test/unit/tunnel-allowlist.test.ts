// Which CONNECT authorities may have a tunnel, and where each goes: the configured upstreams'
// hosts only, on 443 or the URL's port, always to the upstream's configured address.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createTunnelAllowlist, type TunnelAddress } from '../../src/egress/tunnel-allowlist.js';
import type { Rejection } from '../../src/errors.js';

const config = await loadConfig(
  {
    upstream: ['stripe=https://api.stripe.com', 'twilio=https://10.0.0.7:8443', 'v6=https://[2001:db8::1]', 'local=http://127.0.0.1:9000'],
  },
  {},
);
// hosts default to the URL's host; twilio also answers to its public name
config.egress.upstreams.find((u) => u.name === 'twilio')!.hosts.push('api.twilio.com');
const allow = createTunnelAllowlist(config.egress.upstreams, (u, address) => ({ name: u.name, ...address }));

const ok = (authority: string) => allow(authority) as { name: string } & TunnelAddress;
const refused = (authority: string) => allow(authority) as Rejection;

describe('the CONNECT allowlist', () => {
  it("sends an allowed authority to the upstream's configured address", () => {
    expect(ok('api.stripe.com:443')).toEqual({ name: 'stripe', host: 'api.stripe.com', port: 443, ports: [443] });
    // the configured address, not the name asked for
    expect(ok('api.twilio.com:443')).toMatchObject({ name: 'twilio', host: '10.0.0.7', port: 8443 });
    expect(ok('api.twilio.com:8443')).toMatchObject({ name: 'twilio', host: '10.0.0.7', port: 8443 });
    // an IP literal that is a configured host (here the default: the URL's own host:port)
    expect(ok('10.0.0.7:8443')).toMatchObject({ name: 'twilio' });
    expect(ok('[2001:db8::1]:443')).toMatchObject({ name: 'v6', host: '2001:db8::1', port: 443 });
    expect(ok('127.0.0.1:9000')).toMatchObject({ name: 'local', port: 9000, ports: [443, 9000] });
  });

  it('matches host names as the router does: any case, a trailing dot', () => {
    expect(ok('API.Stripe.COM:443')).toMatchObject({ name: 'stripe' });
    expect(ok('api.stripe.com.:443')).toMatchObject({ name: 'stripe' });
  });

  it('refuses other hosts and other ports with 403 upstream_not_allowed', () => {
    for (const authority of ['evil.example:443', 'stripe.com:443', 'api.stripe.com.evil.example:443', '169.254.169.254:80', '10.0.0.7:443', '[::1]:443', 'api.stripe.com:80', 'api.stripe.com:8443', '127.0.0.1:9001']) {
      expect({ authority, ...refused(authority) }).toMatchObject({ authority, status: 403, code: 'upstream_not_allowed' });
    }
    expect(refused('api.stripe.com:80').message).toMatch(/upstream stripe.*port 443/);
    expect(refused('api.twilio.com:22').message).toMatch(/port 443 or 8443/);
  });

  it('answers 400 to anything that is not host:port', () => {
    for (const authority of ['api.stripe.com', 'api.stripe.com:', ':443', 'user@api.stripe.com:443', 'api.stripe.com:443/x', 'api.stripe.com:0', 'api.stripe.com:65536', '2001:db8::1:443', '']) {
      expect({ authority, ...refused(authority) }).toMatchObject({ authority, status: 400, code: 'bad_request' });
    }
  });
});
