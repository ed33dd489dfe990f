// The drain: accepted requests finish with the app's answer, new ones get 503 draining,
// /ready fails at once, the process exits 0; a second signal or drain.timeout ends it sooner.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send, until, type RawResponse } from '../helpers/http.js';
import { openConnection } from '../helpers/raw-http.js';
import { startSidelight } from '../helpers/sidelight.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app?.close());

/** A request kept open on its own connection; resolves with the answer or the socket error. */
function pending(url: string): Promise<RawResponse | Error> {
  return send(url).catch((err: Error) => err);
}

describe('drain', () => {
  it('finishes accepted requests, refuses new ones with 503 draining, and exits 0', async () => {
    const sl = await startSidelight({ config: { ingress: { app: app.url }, drain: { timeout: '20s' } } });
    const N = 8;
    const before = app.inflight();
    const accepted = Array.from({ length: N }, () => pending(`${sl.ingress}/gate`));
    await until(() => app.inflight() === before + N, 10_000, 'every request to reach the app');

    sl.proc.kill('SIGTERM');
    await until(async () => (await send(`${sl.admin}/ready`)).status === 503, 5_000, '/ready to fail');
    const ready = JSON.parse((await send(`${sl.admin}/ready`)).body) as { checks: Record<string, string> };
    expect(ready.checks.draining).toBe('failing: draining (SIGTERM)');

    const refused = await send(`${sl.ingress}/echo`, { headers: { 'x-request-id': 'late-1' } });
    expect(refused.status).toBe(503);
    expect(refused.headers.connection).toBe('close');
    expect(refused.headers['retry-after']).toBeDefined();
    expect(refused.headers['x-request-id']).toBe('late-1');
    expect(JSON.parse(refused.body)).toMatchObject({ error: 'draining', requestId: 'late-1' });

    app.openGate();
    for (const r of await Promise.all(accepted)) {
      expect(r).not.toBeInstanceOf(Error);
      expect((r as RawResponse).status).toBe(200);
      expect(JSON.parse((r as RawResponse).body)).toEqual({ gated: true });
    }
    expect(await sl.exited).toBe(0);
    expect(sl.logs.some((l) => l.msg === 'drain finished' && l.why === 'idle')).toBe(true);
    // Every access log line is on stdout by the time the process has exited.
    await until(() => sl.proc.stdout!.readableEnded, 5_000, 'stdout to close');
    const lines = sl.logs.filter((l) => l.msg === 'request');
    expect(lines.filter((l) => l.path === '/gate' && l.status === 200)).toHaveLength(N);
    expect(lines.some((l) => l.requestId === 'late-1' && l.status === 503 && l.error === 'draining')).toBe(true);
  });

  it('closes idle keep-alive connections when refusing starts, while a request is still in flight', async () => {
    const sl = await startSidelight({ config: { ingress: { app: app.url }, drain: { timeout: '20s' } } });
    const idle = await openConnection(sl.ingress);
    idle.write('GET /echo/first HTTP/1.1\r\nhost: x\r\n\r\n');
    await idle.waitFor(/^HTTP\/1.1 200 OK[\s\S]*\r\n\r\n\{/);
    const seen = app.received.length;
    const held = pending(`${sl.ingress}/gate?held`);
    await until(() => app.received.slice(seen).some((r) => r.url === '/gate?held'), 10_000, 'the request to reach the app');
    sl.proc.kill('SIGTERM');
    expect(await idle.ended).toBe('end');
    app.openGate();
    expect(((await held) as RawResponse).status).toBe(200);
    expect(await sl.exited).toBe(0);
  });

  it('exits at once on a second signal', async () => {
    const sl = await startSidelight({ config: { ingress: { app: app.url }, drain: { timeout: '60s' } } });
    const seen = app.received.length;
    const hung = pending(`${sl.ingress}/hang`);
    await until(() => app.received.slice(seen).some((r) => r.url === '/hang'), 10_000, 'the app to see /hang');
    sl.proc.kill('SIGTERM');
    await sl.waitForLog((l) => l.msg === 'drain started');
    sl.proc.kill('SIGTERM');
    expect(await sl.exited).toBe(1);
    await hung;
  });

  it('is bounded by drain.timeout when a request never finishes', async () => {
    const sl = await startSidelight({ config: { ingress: { app: app.url }, drain: { timeout: '300ms' } } });
    const seen = app.received.length;
    const hung = pending(`${sl.ingress}/hang`);
    await until(() => app.received.slice(seen).some((r) => r.url === '/hang'), 10_000, '/hang in flight');
    sl.proc.kill('SIGTERM');
    expect(await sl.exited).toBe(0);
    expect(sl.logs.some((l) => l.msg === 'drain finished' && l.why === 'timeout')).toBe(true);
    await hung;
  });

  it('answers what is still waiting at drain.timeout with 503 shutdown, cuts what is streaming, and logs both as shutdown', async () => {
    const sl = await startSidelight({ config: { ingress: { app: app.url }, drain: { timeout: '300ms' } } });
    const seen = app.received.length;
    const waiting = pending(`${sl.ingress}/hang`);
    await until(() => app.received.slice(seen).some((r) => r.url === '/hang'), 10_000, '/hang in flight');
    const streaming = new Promise<string>((resolve) => {
      request(`${sl.ingress}/download?bytes=${1024 * 1024 * 1024}`, { agent: false }, (res) => {
        // Read no more until the drain has run out, so the download cannot finish before it.
        res.once('data', () => {
          res.pause();
          sl.proc.kill('SIGTERM');
          void sl.waitForLog((l) => l.msg === 'drain finished').then(() => res.resume());
        });
        res.on('error', () => {});
        res.on('close', () => resolve(res.complete ? 'whole' : 'cut'));
      }).end();
    });
    const answer = await waiting;
    expect(answer).not.toBeInstanceOf(Error);
    expect((answer as RawResponse).status).toBe(503);
    expect(JSON.parse((answer as RawResponse).body)).toMatchObject({ error: 'shutdown' });
    expect(await streaming).toBe('cut');
    expect(await sl.exited).toBe(0);
    await until(() => sl.proc.stdout!.readableEnded, 5_000, 'stdout to close');
    const lines = sl.logs.filter((l) => l.msg === 'request');
    expect(lines.find((l) => l.path === '/hang')).toMatchObject({ status: 503, error: 'shutdown' });
    expect(lines.find((l) => l.path === '/download')).toMatchObject({ status: 200, error: 'shutdown' });
  });

  it('starts on POST /drain from loopback', async () => {
    const sl = await startSidelight({ args: ['--app', app.url] });
    const res = await send(`${sl.admin}/drain`, { method: 'POST' });
    expect(res.status).toBe(202);
    expect(JSON.parse(res.body)).toEqual({ status: 'draining', started: true });
    expect(await sl.exited).toBe(0);
  });

  it('wants the admin token for POST /drain when one is set', async () => {
    const sl = await startSidelight({ args: ['--app', app.url], env: { SIDELIGHT_ADMIN_TOKEN: 'tok-123' } });
    const denied = await send(`${sl.admin}/drain`, { method: 'POST' });
    expect(denied.status).toBe(401);
    expect((await send(`${sl.admin}/ready`)).status).not.toBe(503);
    const ok = await send(`${sl.admin}/drain`, { method: 'POST', headers: { authorization: 'Bearer tok-123' } });
    expect(ok.status).toBe(202);
    expect(await sl.exited).toBe(0);
  });
});

