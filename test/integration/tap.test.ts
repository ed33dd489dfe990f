// GET /tap against real traffic through the built CLI: one summary per finished exchange on every
// listener, NDJSON or SSE, each filter, retries, the query string rule, that no header ever shows,
// and who may connect.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metric } from '../helpers/egress.js';
import { send, until } from '../helpers/http.js';
import { startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';
import { startSidelight, type RunningSidelight } from '../helpers/sidelight.js';
import { openTap, type TapLine, type TapStream } from '../helpers/tap.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

const TOKEN = 'tap-test-token';
const auth = { authorization: `Bearer ${TOKEN}` };

let app: TestApp;
let collector: OtlpReceiver;
let sl: RunningSidelight;
const streams: TapStream[] = [];

async function tap(query = '', headers: Record<string, string> = auth): Promise<TapStream> {
  const stream = await openTap(sl.admin, query, headers);
  streams.push(stream);
  return stream;
}

const byId = (id: string) => (l: TapLine) => l.requestId === id;

beforeAll(async () => {
  [app, collector] = await Promise.all([startTestApp(), startOtlpReceiver()]);
  sl = await startSidelight({
    env: { SIDELIGHT_ADMIN_TOKEN: TOKEN, OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: collector.url },
    config: {
      ingress: { app: app.url, routes: ['/echo', '/status/:code', '/slow'] },
      egress: {
        upstreams: {
          backend: { url: app.url, listen: '127.0.0.1:0', retry: { attempts: 2, backoff: '1ms', maxBackoff: '2ms' } },
        },
      },
      admin: { tap: { maxClients: 16 } },
    },
  });
});

afterAll(async () => {
  for (const s of streams) s.close();
  await sl?.stop();
  await Promise.all([app?.close(), collector?.close()]);
});

describe('the tap stream', () => {
  it('has one summary per finished exchange on every listener, with the trace id and no header, cookie or query', async () => {
    const all = await tap();
    expect(all.status).toBe(200);
    expect(all.headers['content-type']).toBe('application/x-ndjson');
    const secrets = { authorization: 'Bearer sk_live_app_secret', cookie: 'session=cookie-secret', 'x-api-key': 'key-secret' };
    const ingress = await send(`${sl.ingress}/echo?card=4242-query-secret`, { headers: { ...secrets, 'x-request-id': 'tap-in-1' } });
    await send(`${sl.egress}/backend/echo`, { headers: { ...secrets, 'x-request-id': 'tap-eg-1' } });
    await send(`${sl.url['egress:backend']}/echo`, { method: 'POST', body: 'hello', headers: { 'x-request-id': 'tap-ded-1' } });

    const line = await all.waitFor(byId('tap-in-1'));
    expect(line).toMatchObject({
      kind: 'exchange',
      listener: 'ingress',
      method: 'GET',
      path: '/echo',
      route: '/echo',
      status: 200,
      upstream: 'app',
      error: '',
      bytesIn: 0,
      bytesOut: ingress.body.length,
      retries: 0,
    });
    expect(Date.parse(line.time as string)).not.toBeNaN();
    expect(line.durationMs).toBeGreaterThan(0);
    expect(line.traceId).toBe(/^00-([0-9a-f]{32})-/.exec(String(ingress.headers.traceresponse))?.[1]);
    expect(await all.waitFor(byId('tap-eg-1'))).toMatchObject({ listener: 'egress', upstream: 'backend', path: '/backend/echo', status: 200, route: '' });
    expect(await all.waitFor(byId('tap-ded-1'))).toMatchObject({ listener: 'egress:backend', upstream: 'backend', method: 'POST', bytesIn: 5 });
    for (const secret of ['sk_live_app_secret', 'cookie-secret', 'key-secret', 'query-secret', TOKEN]) expect(all.text()).not.toContain(secret);
  });

  it('counts the retries of an egress exchange and names the errors sidelight answered with', async () => {
    const all = await tap();
    await send(`${sl.egress}/backend/status/503`, { headers: { 'x-request-id': 'tap-retried' } });
    await send(`${sl.egress}/nowhere/x`, { headers: { 'x-request-id': 'tap-unknown' } });
    expect(await all.waitFor(byId('tap-retried'))).toMatchObject({ status: 503, retries: 2, upstream: 'backend' });
    expect(await all.waitFor(byId('tap-unknown'))).toMatchObject({ status: 404, error: 'unknown_upstream', upstream: '' });
  });

  it('speaks Server-Sent Events when asked', async () => {
    const events = await tap('', { ...auth, accept: 'text/event-stream' });
    expect(events.headers['content-type']).toMatch(/^text\/event-stream/);
    await send(`${sl.ingress}/echo`, { headers: { 'x-request-id': 'tap-sse-1' } });
    expect(await events.waitFor(byId('tap-sse-1'))).toMatchObject({ kind: 'exchange', status: 200 });
    expect(events.text()).toMatch(/^: sidelight tap\n\ndata: \{"kind":"exchange"/);
  });

  it('applies each filter, and all of them together', async () => {
    const filters: Record<string, string[]> = {
      '?listener=egress': ['a-eg-ok', 'a-eg-500', 'a-eg-unknown'],
      '?route=/status/:code': ['a-503', 'a-404'],
      '?upstream=backend': ['a-eg-ok', 'a-eg-500', 'a-ded'],
      '?status=5xx': ['a-503', 'a-eg-500'],
      '?status=404': ['a-404', 'a-eg-unknown'],
      '?minDuration=1s': ['a-slow'],
      '?requestId=a-echo&requestId=a-ded': ['a-echo', 'a-ded'],
      '?failed=true': ['a-503', 'a-eg-500', 'a-eg-unknown'],
      '?listener=ingress&status=5xx,4xx': ['a-503', 'a-404'],
    };
    const open = await Promise.all(Object.keys(filters).map((q) => tap(q)));
    const traffic: Array<[string, string]> = [
      ['a-echo', `${sl.ingress}/echo`],
      ['a-503', `${sl.ingress}/status/503`],
      ['a-404', `${sl.ingress}/status/404`],
      ['a-slow', `${sl.ingress}/slow?ms=1200`],
      ['a-eg-ok', `${sl.egress}/backend/echo`],
      ['a-eg-500', `${sl.egress}/backend/status/500`],
      ['a-eg-unknown', `${sl.egress}/nope/x`],
      ['a-ded', `${sl.url['egress:backend']}/echo`],
    ];
    for (const [id, url] of traffic) await send(url, { headers: { 'x-request-id': id } });
    // Then one more exchange that each filter lets through: once a stream has it, every earlier
    // exchange has been through that stream's filter (a socket delivers in order).
    const closers: Array<[string, string]> = [
      ['z-listener', `${sl.egress}/backend/echo`],
      ['z-route', `${sl.ingress}/status/201`],
      ['z-upstream', `${sl.egress}/backend/echo`],
      ['z-5xx', `${sl.ingress}/status/502`],
      ['z-404', `${sl.ingress}/status/404`],
      ['z-slow', `${sl.ingress}/slow?ms=1200`],
      ['a-ded', `${sl.url['egress:backend']}/echo`],
      ['z-failed', `${sl.ingress}/status/500`],
      ['z-combined', `${sl.ingress}/status/500`],
    ];
    await Promise.all(closers.map(([id, url]) => send(url, { headers: { 'x-request-id': id } })));
    const keys = Object.keys(filters);
    for (let i = 0; i < keys.length; i++) {
      const stream = open[i];
      await stream.waitFor((l) => l.requestId === closers[i][0] && (closers[i][0] !== 'a-ded' || stream.lines.filter(byId('a-ded')).length === 2), 10_000, `closer of ${keys[i]}`);
      const seen = stream.lines.filter((l) => l.kind === 'exchange' && String(l.requestId).startsWith('a-')).map((l) => l.requestId);
      expect(new Set(seen), keys[i]).toEqual(new Set(filters[keys[i]]));
    }
  });

  it('shows the query string only with logging.logQuery', async () => {
    const other = await startSidelight({ config: { ingress: { app: app.url }, logging: { logQuery: true } } });
    try {
      const stream = await openTap(other.admin);
      await send(`${other.ingress}/echo?page=2`, { headers: { 'x-request-id': 'tap-query' } });
      expect((await stream.waitFor(byId('tap-query'))).path).toBe('/echo?page=2');
      stream.close();
    } finally {
      await other.stop();
    }
  });
});

describe('the latest failures, for a client that connects later', () => {
  it('recent=true starts the stream with the failures kept (at most 50, the filter applied); without it, only what follows', async () => {
    const other = await startSidelight({ config: { ingress: { app: app.url, routes: ['/status/:code'] } } });
    try {
      // no tap client connected while these finish
      for (const [id, code] of [['kept-503', 503], ['ok-200', 200], ['kept-500', 500]] as const) {
        await send(`${other.ingress}/status/${code}`, { headers: { 'x-request-id': id } });
      }
      const recent = await openTap(other.admin, '?recent=true');
      await recent.waitFor(byId('kept-500'));
      expect(recent.lines.map((l) => l.requestId)).toEqual(['kept-503', 'kept-500']);
      const filtered = await openTap(other.admin, '?recent=true&status=503');
      await filtered.waitFor(byId('kept-503'));
      const live = await openTap(other.admin);
      await send(`${other.ingress}/status/502`, { headers: { 'x-request-id': 'after' } });
      await live.waitFor(byId('after'));
      expect(live.lines.map((l) => l.requestId)).toEqual(['after']);
      expect(filtered.lines.map((l) => l.requestId)).toEqual(['kept-503']);
      for (const s of [recent, filtered, live]) s.close();

      for (let i = 0; i < 60; i++) await send(`${other.ingress}/status/500`, { headers: { 'x-request-id': `many-${i}` } });
      const bounded = await openTap(other.admin, '?recent');
      await bounded.waitFor(byId('many-59'));
      expect(bounded.lines.map((l) => l.requestId)).toEqual(Array.from({ length: 50 }, (_, i) => `many-${i + 10}`));
      bounded.close();
    } finally {
      await other.stop();
    }
  });
});

describe('who may tap', () => {
  it('needs the admin token when one is set: 401 without it or with a wrong one', async () => {
    const none = await openTap(sl.admin);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    expect((await openTap(sl.admin, '', { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await tap()).status).toBe(200);
  });

  it('refuses a call made by a page of another origin, token or not', async () => {
    const res = await send(`${sl.admin}/tap`, { headers: { ...auth, origin: 'https://evil.example' } });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'forbidden' });
  });

  it('refuses a bad filter with 400 naming it', async () => {
    const bad = await send(`${sl.admin}/tap?status=9xx`, { headers: auth });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toMatchObject({ error: 'bad_request', message: expect.stringContaining('status') });
    const unknown = await send(`${sl.admin}/tap?stauts=5xx`, { headers: auth });
    expect(unknown.status).toBe(400);
    expect(JSON.parse(unknown.body).message).toContain('unknown tap filter "stauts"');
    expect((await send(`${sl.admin}/tap?minDuration=100`, { headers: auth })).status).toBe(400);
  });

  it('without a token, accepts loopback; past admin.tap.maxClients, 503 until a client leaves; 0 turns it off', async () => {
    const other = await startSidelight({ config: { ingress: { app: app.url }, admin: { tap: { maxClients: 1 } } } });
    const off = await startSidelight({ config: { ingress: { app: app.url }, admin: { tap: { maxClients: 0 } } } });
    try {
      const first = await openTap(other.admin);
      expect(first.status).toBe(200);
      const second = await send(`${other.admin}/tap`);
      expect(second.status).toBe(503);
      expect(second.headers['retry-after']).toBe('5');
      expect(JSON.parse(second.body)).toMatchObject({ error: 'too_many_tap_clients' });
      expect(await metric(other.admin, 'sidelight_tap_clients')).toBe(1);
      expect(await metric(other.admin, 'sidelight_tap_rejected_clients_total')).toBe(1);
      first.close();
      const again = await until(async () => {
        const s = await openTap(other.admin);
        if (s.status === 200) return s;
        s.close();
        return undefined;
      }, 10_000, 'a tap slot after the first client left');
      again.close();
      const disabled = await send(`${off.admin}/tap`);
      expect(disabled.status).toBe(404);
      expect(JSON.parse(disabled.body)).toMatchObject({ error: 'tap_disabled' });
    } finally {
      await Promise.all([other.stop(), off.stop()]);
    }
  });
});
