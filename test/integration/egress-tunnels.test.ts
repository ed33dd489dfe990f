// Egress CONNECT tunnels (HTTPS_PROXY clients), through the built CLI with real clients: the
// twilio SDK configured only by HTTP_PROXY, stripe-node with a standard proxy agent, and curl,
// each reaching a local TLS server that presents a certificate for api.twilio.com and
// api.stripe.com (the clients trust its CA) while the upstreams' configured address is
// 127.0.0.1:PORT: the tunnel goes where the config says, the TLS runs end to end. sidelight stays
// an allowlist: every other CONNECT is a 403 and no connection is made. A tunnel gets a span, an
// access-log line, a tap record and metrics.
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { HttpProxyAgent } from 'http-proxy-agent';
import Stripe from 'stripe';
import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metric } from '../helpers/egress.js';
import { CURL, needTool } from '../helpers/tools.js';
import { makeCerts, startFakeApi, type FakeApi } from '../helpers/fake-api.js';
import { send, until } from '../helpers/http.js';
import { startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';
import { promtool } from '../helpers/prometheus.js';
import { CLI, startSidelight, type LogLine, type RunningSidelight } from '../helpers/sidelight.js';
import { openTap } from '../helpers/tap.js';
import { connectThrough, requestOver, tlsOver } from '../helpers/tunnel.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ACCOUNT = 'AC00000000000000000000000000000000';

let api: FakeApi;
let ca: Buffer;
let collector: OtlpReceiver;
let sl: RunningSidelight;

beforeAll(async () => {
  [api, collector] = await Promise.all([startFakeApi({ certs: await makeCerts(['api.twilio.com', 'api.stripe.com']) }), startOtlpReceiver()]);
  ca = readFileSync(api.caFile);
  // Both upstreams are configured at 127.0.0.1:PORT: a tunnel to api.twilio.com:443 must go there.
  const upstream = (host: string) => ({ url: `https://127.0.0.1:${api.port}`, hosts: [host], ca: api.caFile });
  sl = await startSidelight({
    env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_BSP_SCHEDULE_DELAY: '100' },
    config: {
      egress: { upstreams: { twilio: upstream('api.twilio.com'), stripe: { ...upstream('api.stripe.com'), listen: '127.0.0.1:0' } } },
    },
  });
});
afterAll(async () => {
  await sl?.stop();
  await Promise.all([api?.close(), collector?.close()]);
});

const tunnelLine = (predicate: (l: LogLine) => boolean) => sl.waitForLog((l) => l.msg === 'tunnel' && predicate(l));

/** Runs a script in a child node with this repository's node_modules, as an app would run. */
function runNode(script: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, env: { PATH: process.env.PATH, ...env }, timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('real clients through a CONNECT tunnel', () => {
  it('the twilio SDK, configured only by HTTP_PROXY, reaches the API end to end', async () => {
    api.reset();
    const script = `
      import twilio from 'twilio';
      const client = twilio('${ACCOUNT}', 'twilio_auth_token_secret');
      const message = await client.messages.create({ to: '+15005550006', from: '+15005550001', body: 'hello through a tunnel' });
      console.log(JSON.stringify(message.toJSON ? message.toJSON() : message));`;
    const run = await runNode(script, { HTTP_PROXY: sl.egress, NODE_EXTRA_CA_CERTS: api.caFile });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const got = api.requests[0];
    expect(got.method).toBe('POST');
    expect(got.url).toBe(`/2010-04-01/Accounts/${ACCOUNT}/Messages.json`);
    expect(got.headers.authorization).toBe(`Basic ${Buffer.from(`${ACCOUNT}:twilio_auth_token_secret`).toString('base64')}`);
    // sidelight never saw inside: no header of its own was added, the Host is the SDK's.
    expect(got.headers.host).toBe('api.twilio.com');
    expect(got.headers['x-request-id']).toBeUndefined();
    expect(got.headers.traceparent).toBeUndefined();
    const line = await tunnelLine((l) => l.upstream === 'twilio');
    expect(line).toMatchObject({ listener: 'egress', method: 'CONNECT', target: 'api.twilio.com:443', status: 200, outcome: 'established' });
    expect(line.bytesIn).toBeGreaterThan(got.body.length);
    expect(line.bytesOut).toBeGreaterThan(0);
    // Secrets never leave the tunnel: not in the log line.
    expect(JSON.stringify(sl.logs)).not.toContain('twilio_auth_token_secret');
  });

  it('stripe-node with https-proxy-agent as its httpAgent', async () => {
    api.reset();
    // The agent's own options reach only its connection to the proxy: the API's CA comes from NODE_EXTRA_CA_CERTS.
    const script = `
      import Stripe from 'stripe';
      import { HttpsProxyAgent } from 'https-proxy-agent';
      const agent = new HttpsProxyAgent(process.env.EGRESS_PROXY, { headers: { 'X-Request-ID': 'stripe-tunnel-1' } });
      const stripe = new Stripe('sk_test_tunnel_4242', { httpAgent: agent, maxNetworkRetries: 0 });
      const customer = await stripe.customers.create({ email: 'a@example.com' }, { idempotencyKey: 'idem-tunnel' });
      agent.destroy();
      console.log(JSON.stringify(customer));`;
    const run = await runNode(script, { EGRESS_PROXY: sl.egress, NODE_EXTRA_CA_CERTS: api.caFile });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toMatchObject({ id: 'obj_1' });
    const got = api.requests[0];
    expect(got.url).toBe('/v1/customers');
    expect(got.headers.authorization).toBe('Bearer sk_test_tunnel_4242');
    expect(got.headers['idempotency-key']).toBe('idem-tunnel');
    expect(got.headers.host).toBe('api.stripe.com');
    expect(await tunnelLine((l) => l.requestId === 'stripe-tunnel-1')).toMatchObject({ upstream: 'stripe', target: 'api.stripe.com:443', outcome: 'established' });
  });

  const curl = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile('curl', ['-sS', '--max-time', '15', '-x', sl.egress, '--cacert', api.caFile, ...args], (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });

  it('curl -x, on port 443 and on the port of the upstream URL; another port is refused', async (ctx) => {
    needTool(ctx, CURL);
    api.reset();
    const ok = await curl(['--proxy-header', 'X-Request-ID: curl-443', 'https://api.twilio.com/2010-04-01/Accounts.json']);
    expect(ok.stderr).toBe('');
    expect(JSON.parse(ok.stdout)).toMatchObject({ url: '/2010-04-01/Accounts.json' });
    const onUrlPort = await curl(['--proxy-header', 'X-Request-ID: curl-url-port', `https://api.twilio.com:${api.port}/v1/x`]);
    expect(JSON.parse(onUrlPort.stdout)).toMatchObject({ url: '/v1/x' });
    expect(await tunnelLine((l) => l.requestId === 'curl-url-port')).toMatchObject({ target: `api.twilio.com:${api.port}`, outcome: 'established' });
    const other = await curl(['https://api.twilio.com:8443/v1/x']);
    expect(other.code).not.toBe(0);
    expect(other.stderr).toMatch(/403/);
    expect(api.requests.map((r) => r.url)).toEqual(['/2010-04-01/Accounts.json', '/v1/x']);
  });
});

// The README's second way in, for comparison: plain HTTP to sidelight with an absolute-form
// request line (HTTP_PROXY with an http:// URL); sidelight sees each request and originates TLS.
describe('HTTP_PROXY with http:// URLs (absolute-form), as the README sets the SDKs up', () => {
  it('stripe-node: protocol http, port 80 and http-proxy-agent', async () => {
    api.reset();
    const stripe = new Stripe('sk_test_absolute_4242', { protocol: 'http', host: 'api.stripe.com', port: 80, httpAgent: new HttpProxyAgent(sl.egress), maxNetworkRetries: 0 });
    const customer = await stripe.customers.create({ email: 'a@example.com' });
    expect(customer.id).toBe('obj_1');
    expect(api.requests[0]).toMatchObject({ method: 'POST', url: '/v1/customers' });
    expect(api.requests[0].headers.authorization).toBe('Bearer sk_test_absolute_4242');
    // L7: sidelight saw the request, so it added its request id and a span's traceparent.
    expect(api.requests[0].headers['x-request-id']).toBeTruthy();
    expect(api.requests[0].headers.traceparent).toBeTruthy();
  });

  it('twilio-node: a RequestClient with http:// URLs and http-proxy-agent', async () => {
    api.reset();
    class ViaProxy extends twilio.RequestClient {
      constructor() {
        super();
        this.axios.defaults.httpAgent = new HttpProxyAgent(sl.egress);
      }
      override request<TData>(opts: RequestClient.RequestOptions<TData>) {
        return super.request<TData>({ ...opts, uri: opts.uri.replace(/^https:/, 'http:') });
      }
    }
    const client = twilio(ACCOUNT, 'twilio_auth_token_secret', { httpClient: new ViaProxy() });
    await client.messages.create({ to: '+15005550006', from: '+15005550001', body: 'hello as plain HTTP' });
    expect(api.requests[0]).toMatchObject({ method: 'POST', url: `/2010-04-01/Accounts/${ACCOUNT}/Messages.json` });
    expect(api.requests[0].headers['x-request-id']).toBeTruthy();
  });
});

describe('the allowlist', () => {
  it('refuses any other CONNECT with a JSON 403 and connects nowhere', async () => {
    api.reset();
    const before = await metric(sl.admin, 'sidelight_egress_rejections_total{listener="egress",reason="upstream_not_allowed"}');
    const refused = [
      'evil.example.com:443', // not configured
      'api.twilio.com:8443', // configured host, another port
      `127.0.0.1:${api.port}`, // an IP literal, even the upstream's own address
      '169.254.169.254:80', // the cloud metadata address
      '[::1]:443',
      'API.Stripe.com.:22',
    ];
    for (const [i, authority] of refused.entries()) {
      const answer = await connectThrough(sl.egress, authority, { 'X-Request-ID': `refused-${i}` });
      expect({ authority, status: answer.status }).toEqual({ authority, status: 403 });
      expect(answer.head).toMatch(/^x-request-id: refused-/im);
      expect(answer.head).toMatch(/^connection: close/im);
      expect(JSON.parse(answer.body)).toMatchObject({ error: 'upstream_not_allowed', requestId: `refused-${i}`, upstreams: ['twilio', 'stripe'] });
    }
    expect(api.connections()).toBe(0);
    expect(await metric(sl.admin, 'sidelight_egress_rejections_total{listener="egress",reason="upstream_not_allowed"}')).toBe(before + refused.length);
    const line = await sl.waitForLog((l) => l.requestId === 'refused-0');
    expect(line).toMatchObject({ msg: 'request', method: 'CONNECT', path: 'evil.example.com:443', status: 403, error: 'upstream_not_allowed' });
  });

  it('answers 400 to a CONNECT without host:port', async () => {
    for (const authority of ['api.twilio.com', 'user@api.twilio.com:443', 'api.twilio.com:0', 'api.twilio.com:99999']) {
      const answer = await connectThrough(sl.egress, authority);
      expect({ authority, status: answer.status }).toEqual({ authority, status: 400 });
      expect(JSON.parse(answer.body)).toMatchObject({ error: 'bad_request' });
    }
    expect(api.connections()).toBe(0);
  });

  it("a dedicated listener tunnels only to its own upstream's hosts", async () => {
    const own = await connectThrough(sl.url['egress:stripe'], 'api.stripe.com:443');
    expect(own.status).toBe(200);
    own.socket.destroy();
    const other = await connectThrough(sl.url['egress:stripe'], 'api.twilio.com:443');
    expect(other.status).toBe(403);
    expect(JSON.parse(other.body)).toMatchObject({ error: 'upstream_not_allowed', upstreams: ['stripe'] });
  });
});

describe('what a tunnel reports', () => {
  it('one CLIENT span per tunnel, parented on the traceparent of the CONNECT, with bytes and outcome', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parentId = '00f067aa0ba902b7';
    const answer = await connectThrough(sl.egress, 'api.twilio.com:443', { 'X-Request-ID': 'span-tunnel-1', traceparent: `00-${traceId}-${parentId}-01` });
    expect(answer.status).toBe(200);
    expect(answer.head).toBe('HTTP/1.1 200 Connection Established');
    const tls = await tlsOver(answer.socket, 'api.twilio.com', ca);
    const response = await requestOver(tls, 'GET /v1/spanned HTTP/1.1\r\nHost: api.twilio.com\r\nConnection: close\r\n\r\n');
    expect(response).toMatch(/^HTTP\/1\.1 200/);

    const line = await tunnelLine((l) => l.requestId === 'span-tunnel-1');
    expect(line).toMatchObject({ traceId, closedBy: 'upstream', outcome: 'established', status: 200 });
    const spans = await collector.waitFor((all) => all.some((s) => s.attributes['sidelight.request_id'] === 'span-tunnel-1'), 10_000, 'the tunnel span');
    const span = spans.find((s) => s.attributes['sidelight.request_id'] === 'span-tunnel-1')!;
    expect(span).toMatchObject({ name: 'CONNECT twilio', kind: 'CLIENT', traceId, parentSpanId: parentId, spanId: line.spanId, statusCode: 0 });
    expect(span.attributes).toMatchObject({
      'http.request.method': 'CONNECT',
      'server.address': '127.0.0.1',
      'server.port': api.port,
      upstream: 'twilio',
      'sidelight.tunnel.target': 'api.twilio.com:443',
      'sidelight.tunnel.outcome': 'established',
      'sidelight.tunnel.closed_by': 'upstream',
      'sidelight.tunnel.bytes_sent': line.bytesIn,
      'sidelight.tunnel.bytes_received': line.bytesOut,
    });
    expect(span.endNanos).toBeGreaterThan(span.startNanos);
  });

  it('metrics per upstream: opens by outcome, active tunnels, bytes each way as they flow, connect time and lifetime', async (ctx) => {
    const series = (name: string, labels: string) => metric(sl.admin, `${name}{${labels}}`);
    const opened = await series('sidelight_egress_tunnels_total', 'upstream="twilio",outcome="established"');
    const sent = await series('sidelight_egress_tunnel_bytes_total', 'upstream="twilio",direction="sent"');
    const received = await series('sidelight_egress_tunnel_bytes_total', 'upstream="twilio",direction="received"');
    const lifetimes = await series('sidelight_egress_tunnel_duration_seconds_count', 'upstream="twilio"');
    const connects = await series('sidelight_egress_tunnel_connect_duration_seconds_count', 'upstream="twilio"');

    const answer = await connectThrough(sl.egress, 'api.twilio.com:443');
    const tls = await tlsOver(answer.socket, 'api.twilio.com', ca);
    expect(await series('sidelight_egress_tunnels_active', 'upstream="twilio"')).toBe(1);
    expect(await series('sidelight_egress_tunnels_total', 'upstream="twilio",outcome="established"')).toBe(opened + 1);
    // The handshake's bytes show while the tunnel is still open.
    expect(await series('sidelight_egress_tunnel_bytes_total', 'upstream="twilio",direction="sent"')).toBeGreaterThan(sent);
    expect(await series('sidelight_egress_tunnel_bytes_total', 'upstream="twilio",direction="received"')).toBeGreaterThan(received);
    tls.end();
    await until(async () => (await series('sidelight_egress_tunnels_active', 'upstream="twilio"')) === 0, 10_000, 'the tunnel to end');
    expect(await series('sidelight_egress_tunnel_duration_seconds_count', 'upstream="twilio"')).toBe(lifetimes + 1);
    expect(await series('sidelight_egress_tunnel_connect_duration_seconds_count', 'upstream="twilio"')).toBe(connects + 1);
    expect(await series('sidelight_egress_tunnels_closed_total', 'upstream="twilio",reason="client"')).toBeGreaterThan(0);
    const text = (await send(`${sl.admin}/metrics`)).body;
    // Declared at 0 for every upstream before any tunnel.
    expect(text).toContain('sidelight_egress_tunnels_total{upstream="stripe",outcome="established"}');
    expect(promtool(ctx, ['check', 'metrics'], text).output).toBe('');
  });

  it('the tap shows one "tunnel" record, and `sidelight tap` prints it', async () => {
    const tap = await openTap(sl.admin, '?upstream=twilio');
    const cli = spawn(process.execPath, [CLI, 'tap', '--admin', sl.admin, '--upstream', 'twilio'], { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
    let printed = '';
    let cliErr = '';
    cli.stdout.on('data', (d: Buffer) => (printed += d));
    cli.stderr.on('data', (d: Buffer) => (cliErr += d));
    try {
      await until(() => cliErr.includes('tapping'), 10_000, 'the tap command to connect');
      const answer = await connectThrough(sl.egress, 'api.twilio.com:443', { 'X-Request-ID': 'tap-tunnel-1' });
      answer.socket.end('not TLS at all\r\n');
      const record = await tap.waitFor((l) => l.requestId === 'tap-tunnel-1');
      expect(record).toMatchObject({ kind: 'tunnel', method: 'CONNECT', target: 'api.twilio.com:443', upstream: 'twilio', status: 200, outcome: 'established', error: '' });
      expect(record.bytesIn).toBe('not TLS at all\r\n'.length);
      await until(() => printed.includes('id=tap-tunnel-1'), 10_000, `the tunnel line from \`sidelight tap\`; got ${printed}`);
      expect(printed).toMatch(/ egress +CONNECT 200 +[\d.]+m?s {2}twilio +api\.twilio\.com:443 {2}closed by (client|upstream) {2}sent=16 received=\d+ {2}id=tap-tunnel-1/);
    } finally {
      tap.close();
      cli.kill('SIGINT');
    }
  });
});
