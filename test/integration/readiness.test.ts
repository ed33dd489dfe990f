// /ready follows the app, polled in the background: readiness.path when set, else a TCP connect.
import { createServer, type Server } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { send, until } from '../helpers/http.js';
import { startSidelight, type RunningSidelight } from '../helpers/sidelight.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

const started: RunningSidelight[] = [];
let app: TestApp | undefined;
afterAll(async () => {
  await Promise.all(started.map((s) => s.stop()));
  await app?.close();
});

async function readyStatus(sl: RunningSidelight) {
  const res = await send(`${sl.admin}/ready`);
  return { status: res.status, body: JSON.parse(res.body) as { status: string; checks: Record<string, string> } };
}

describe('readiness', () => {
  it('flips with the app answer on readiness.path, and /live stays 200', async () => {
    app = await startTestApp();
    const sl = await startSidelight({ config: { ingress: { app: app.url }, readiness: { path: '/healthz', interval: '50ms', timeout: '500ms' } } });
    started.push(sl);
    await until(async () => (await readyStatus(sl)).status === 200, 10_000, 'ready');
    expect((await readyStatus(sl)).body).toEqual({ status: 'ready', checks: { startup: 'ok', draining: 'ok', app: 'ok' } });

    app.setReady(false);
    const failing = await until(async () => {
      const r = await readyStatus(sl);
      return r.status === 503 ? r : undefined;
    }, 10_000, 'not ready');
    expect(failing.body.status).toBe('not_ready');
    expect(failing.body.checks.app).toBe('failing: /healthz answered 503');
    expect((await send(`${sl.admin}/live`)).status).toBe(200);
    expect((await send(`${sl.admin}/health/ready`)).status).toBe(503);

    app.setReady(true);
    await until(async () => (await readyStatus(sl)).status === 200, 10_000, 'ready again');
    expect((await send(`${sl.admin}/health/live`)).status).toBe(200);
    // One line per transition: a warning when it went bad, info when it came back.
    await sl.waitForLog((l) => l.msg === 'app ready');
    const transitions = sl.logs.filter((l) => l.msg === 'app not ready' || l.msg === 'app ready');
    expect(transitions).toMatchObject([
      { level: 'warn', msg: 'app not ready', app: app.url, check: 'failing: /healthz answered 503' },
      { level: 'info', msg: 'app ready', app: app.url },
    ]);
  });

  it('uses a TCP connect when no path is set: not ready while nothing listens on the app port', async () => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as { port: number }).port;
    await new Promise((r) => holder.close(r));

    const sl = await startSidelight({ config: { ingress: { app: `http://127.0.0.1:${port}` }, readiness: { interval: '50ms' } } });
    started.push(sl);
    const down = await until(async () => {
      const r = await readyStatus(sl);
      return r.body.checks.app !== 'pending: first check not done' ? r : undefined;
    }, 10_000, 'first check');
    expect(down.status).toBe(503);
    expect(down.body.checks.app).toBe('failing: tcp connect: ECONNREFUSED');

    const up: Server = createServer((s) => s.destroy());
    await new Promise<void>((r) => up.listen(port, '127.0.0.1', r));
    try {
      await until(async () => (await readyStatus(sl)).status === 200, 10_000, 'ready once the app listens');
      // The app being down at start is in the log, not only on /ready.
      await sl.waitForLog((l) => l.msg === 'app ready');
      expect(sl.logs.filter((l) => l.msg === 'app not ready')).toMatchObject([{ level: 'warn', check: 'failing: tcp connect: ECONNREFUSED' }]);
    } finally {
      await new Promise((r) => up.close(r));
    }
  });
});
