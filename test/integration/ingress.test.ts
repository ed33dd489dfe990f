// The ingress path with a healthy app: request ids, headers both ways, the access log,
// oversized headers, upstream resets, client aborts and WebSocket tunnels.
import { request as httpRequest } from 'node:http';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send, until, UUID } from '../helpers/http.js';
import { startSidelight, type RunningSidelight } from '../helpers/sidelight.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

let app: TestApp;
let sl: RunningSidelight;

beforeAll(async () => {
  app = await startTestApp();
  sl = await startSidelight({ config: { ingress: { app: app.url }, limits: { maxHeaderBytes: 4096 } } });
});
afterAll(async () => {
  await sl?.stop();
  await app?.close();
});

async function echo(headers: Record<string, string>) {
  const res = await send(`${sl.ingress}/echo`, { headers });
  return { res, seen: (JSON.parse(res.body) as { headers: Record<string, string> }).headers };
}

describe('X-Request-ID', () => {
  it('keeps a well-formed id, up to 128 characters, on the forwarded request and the response', async () => {
    for (const id of ['abc-123.x:Y_z', 'a'.repeat(128)]) {
      const { res, seen } = await echo({ 'x-request-id': id });
      expect(res.headers['x-request-id']).toBe(id);
      expect(seen['x-request-id']).toBe(id);
    }
  });

  it('replaces a malformed or 129-character id with a new UUID', async () => {
    for (const id of ['has space', 'semi;colon', 'a'.repeat(129)]) {
      const { res, seen } = await echo({ 'x-request-id': id });
      expect(res.headers['x-request-id']).toMatch(UUID);
      expect(seen['x-request-id']).toBe(res.headers['x-request-id']);
    }
  });

  it('takes X-Correlation-ID when X-Request-ID is absent, and mints one when neither is sent', async () => {
    const correlated = await echo({ 'x-correlation-id': 'corr-42' });
    expect(correlated.res.headers['x-request-id']).toBe('corr-42');
    expect(correlated.seen['x-request-id']).toBe('corr-42');
    const minted = await echo({});
    expect(minted.res.headers['x-request-id']).toMatch(UUID);
    expect(minted.seen['x-request-id']).toBe(minted.res.headers['x-request-id']);
  });

  it('sends exactly one id upstream even when the client sent several', async () => {
    const res = await send(`${sl.ingress}/echo`, { headers: { 'x-request-id': ['one', 'two'] } });
    const seen = (JSON.parse(res.body) as { headers: Record<string, string> }).headers;
    expect(seen['x-request-id']).toBe(res.headers['x-request-id']);
    expect(seen['x-request-id']).not.toContain(',');
  });
});

describe('headers', () => {
  it('drops hop-by-hop request headers, including those named in Connection', async () => {
    const { seen } = await echo({
      connection: 'keep-alive, x-drop-me',
      'x-drop-me': 'secret',
      'keep-alive': 'timeout=99',
      te: 'trailers',
      'proxy-authorization': 'Basic cHJveHk6c2VjcmV0',
      'x-end-to-end': 'kept',
    });
    expect(seen['x-end-to-end']).toBe('kept');
    for (const name of ['x-drop-me', 'keep-alive', 'te', 'proxy-authorization']) expect(seen[name], name).toBeUndefined();
  });

  it('drops hop-by-hop response headers, including those named in Connection', async () => {
    const res = await send(`${sl.ingress}/hop`);
    expect(res.status).toBe(200);
    expect(res.headers['x-end-to-end']).toBe('yes');
    expect(res.headers['x-hop']).toBeUndefined();
    expect(res.headers['keep-alive']).not.toBe('timeout=5');
    expect(res.body).toBe('ok');
  });

  it('sets X-Forwarded-For, -Proto and -Host, appending to a client-sent X-Forwarded-For', async () => {
    const host = new URL(sl.ingress).host;
    const plain = await echo({});
    expect(plain.seen['x-forwarded-for']).toBe('127.0.0.1');
    expect(plain.seen['x-forwarded-proto']).toBe('http');
    expect(plain.seen['x-forwarded-host']).toBe(host);
    expect(plain.seen.host).toBe(host);
    const chained = await echo({ 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example' });
    expect(chained.seen['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
    expect(chained.seen['x-forwarded-proto']).toBe('https');
    expect(chained.seen['x-forwarded-host']).toBe('shop.example');
  });

  it('answers oversized request headers with 431 and the JSON error body', async () => {
    const res = await send(`${sl.ingress}/echo`, { headers: { 'x-big': 'b'.repeat(8000) } });
    expect(res.status).toBe(431);
    const body = JSON.parse(res.body) as Record<string, string>;
    expect(body.error).toBe('headers_too_large');
    expect(body.requestId).toMatch(UUID);
    expect(res.headers['x-request-id']).toBe(body.requestId);
  });
});

describe('access log', () => {
  it('writes one line per request with its fields and no secrets, query string or credentials', async () => {
    const secrets = ['bearer-secret-1', 'cookie-secret-2', 'apikey-secret-3', 'query-secret-4'];
    const res = await send(`${sl.ingress}/echo?token=${secrets[3]}`, {
      method: 'POST',
      body: 'hello',
      headers: {
        'x-request-id': 'log-line-1',
        authorization: `Bearer ${secrets[0]}`,
        cookie: `session=${secrets[1]}`,
        'x-api-key': secrets[2],
        'user-agent': 'sidelight-test/1.0',
      },
    });
    expect(res.status).toBe(200);
    const line = await sl.waitForLog((l) => l.msg === 'request' && l.requestId === 'log-line-1');
    expect(line).toMatchObject({
      method: 'POST',
      path: '/echo',
      // no ingress.routes here: the field is there all the same, "" as the http_route label is
      route: '',
      status: 200,
      bytesIn: 5,
      remoteAddress: '127.0.0.1',
      userAgent: 'sidelight-test/1.0',
      listener: 'ingress',
    });
    expect(typeof line.time).toBe('string');
    expect(typeof line.durationMs).toBe('number');
    expect(line.bytesOut).toBe(Number(res.headers['content-length']));
    const text = JSON.stringify(sl.logs);
    for (const s of secrets) expect(text).not.toContain(s);
  });
});

describe('upstream failures with the app up', () => {
  it('answers 502 upstream_unreachable when the app resets the connection', async () => {
    const res = await send(`${sl.ingress}/reset`, { headers: { 'x-request-id': 'reset-1' } });
    expect(res.status).toBe(502);
    expect(res.headers['x-request-id']).toBe('reset-1');
    expect(JSON.parse(res.body)).toMatchObject({ error: 'upstream_unreachable', requestId: 'reset-1', upstream: 'app' });
  });

  it('ends the client response with an error when the app resets mid-body', async () => {
    const res = await fetch(`${sl.ingress}/reset-mid-body`);
    expect(res.status).toBe(200);
    await expect(res.arrayBuffer()).rejects.toThrow();
  });

  it('cancels the upstream request when the client goes away', async () => {
    const before = app.received.length;
    const req = httpRequest(`${sl.ingress}/hang`, { agent: false, headers: { 'x-request-id': 'abort-1' } });
    req.on('error', () => undefined);
    req.end();
    await until(() => app.received.slice(before).some((r) => r.headers['x-request-id'] === 'abort-1'), 10_000, 'the app to see /hang');
    expect(app.inflight()).toBeGreaterThan(0);
    req.destroy();
    await until(() => app.inflight() === 0, 10_000, 'the app to see its request closed');
    const line = await sl.waitForLog((l) => l.msg === 'request' && l.requestId === 'abort-1');
    expect(line).toMatchObject({ status: 499, error: 'client_aborted' });
  });
});

describe('WebSocket', () => {
  it('tunnels an upgrade and echoes messages both ways', async () => {
    const ws = new WebSocket(`${sl.ingress.replace('http', 'ws')}/ws`, { headers: { 'x-request-id': 'ws-1' } });
    const messages: string[] = [];
    ws.on('message', (data) => messages.push(String(data)));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    await until(() => messages.length >= 1, 10_000, 'hello');
    expect(JSON.parse(messages[0])).toEqual({ hello: true, requestId: 'ws-1' });
    ws.send('ping through sidelight');
    await until(() => messages.length >= 2, 10_000, 'echo');
    expect(messages[1]).toBe('ping through sidelight');
    ws.close();
    await new Promise((resolve) => ws.once('close', resolve));
  });

  it("passes the app's refusal (401) to the client as it is", async () => {
    const ws = new WebSocket(`${sl.ingress.replace('http', 'ws')}/ws-deny`);
    ws.on('error', () => undefined);
    const res = await new Promise<import('node:http').IncomingMessage>((resolve) => ws.once('unexpected-response', (_req, r) => resolve(r)));
    expect(res.statusCode).toBe(401);
    expect(res.headers['x-request-id']).toMatch(UUID);
    let body = '';
    for await (const chunk of res) body += String(chunk);
    expect(body).toBe('denied');
  });
});
