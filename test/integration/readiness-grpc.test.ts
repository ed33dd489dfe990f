// readiness.grpcHealth: /ready follows a real gRPC app's grpc.health.v1.Health/Check answer.
import { createServer, type Http2Server, type ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { send, until } from '../helpers/http.js';
import { grpc, startGrpcApp, type GrpcApp } from '../helpers/grpc-app.js';
import { runCli, startSidelight, writeConfig, type RunningSidelight } from '../helpers/sidelight.js';

const started: RunningSidelight[] = [];
const apps: GrpcApp[] = [];
const servers: Array<grpc.Server | Http2Server> = [];
afterAll(async () => {
  await Promise.all(started.map((s) => s.stop()));
  await Promise.all(apps.map((a) => a.close()));
  for (const s of servers) if (s instanceof grpc.Server) s.forceShutdown();
  await Promise.all(servers.map((s) => (s instanceof grpc.Server ? undefined : new Promise((resolve) => s.close(resolve)))));
});

async function appCheck(sl: RunningSidelight): Promise<{ status: number; app: string }> {
  const res = await send(`${sl.admin}/ready`);
  return { status: res.status, app: (JSON.parse(res.body) as { checks: Record<string, string> }).checks.app };
}

/** waits until the app check has left "pending" and says `expected` */
function untilCheck(sl: RunningSidelight, expected: (app: string) => boolean, what: string) {
  return until(async () => {
    const r = await appCheck(sl);
    return expected(r.app) ? r : undefined;
  }, 10_000, what);
}

describe('readiness over the gRPC health protocol', () => {
  it('follows Health/Check for readiness.grpcService: ready while SERVING, not ready with the status named', async () => {
    const app = await startGrpcApp();
    apps.push(app);
    app.setHealth('sidelight.test.v1.Echo', 'SERVING');
    const sl = await startSidelight({
      config: { ingress: { app: app.url }, readiness: { grpcHealth: true, grpcService: 'sidelight.test.v1.Echo', interval: '50ms', timeout: '500ms' } },
    });
    started.push(sl);
    expect(await untilCheck(sl, (c) => c === 'ok', 'ready')).toEqual({ status: 200, app: 'ok' });

    app.setHealth('sidelight.test.v1.Echo', 'NOT_SERVING');
    expect(await untilCheck(sl, (c) => c !== 'ok', 'not ready')).toEqual({ status: 503, app: 'failing: grpc health NOT_SERVING' });
    await sl.waitForLog((l) => l.msg === 'app not ready');
    expect(sl.logs.filter((l) => l.msg === 'app not ready')).toMatchObject([{ level: 'warn', check: 'failing: grpc health NOT_SERVING' }]);

    app.setHealth('sidelight.test.v1.Echo', 'SERVING');
    expect(await untilCheck(sl, (c) => c === 'ok', 'ready again')).toEqual({ status: 200, app: 'ok' });
  });

  it('asks about the whole server by default, and names a status error (an unknown service is NOT_FOUND)', async () => {
    const app = await startGrpcApp();
    apps.push(app);
    const whole = await startSidelight({ config: { ingress: { app: app.url }, readiness: { grpcHealth: true, interval: '50ms' } } });
    const unknown = await startSidelight({ config: { ingress: { app: app.url }, readiness: { grpcHealth: true, grpcService: 'no.such.Service', interval: '50ms' } } });
    started.push(whole, unknown);
    expect(await untilCheck(whole, (c) => c === 'ok', 'ready')).toEqual({ status: 200, app: 'ok' });
    expect(await untilCheck(unknown, (c) => !c.startsWith('pending'), 'first check')).toEqual({ status: 503, app: 'failing: grpc health: NOT_FOUND unknown service' });
    app.setHealth('', 'NOT_SERVING');
    expect(await untilCheck(whole, (c) => c !== 'ok', 'not ready')).toEqual({ status: 503, app: 'failing: grpc health NOT_SERVING' });
  });

  it('is not ready, with a clear reason, for an app without the health service', async () => {
    const server = new grpc.Server();
    servers.push(server);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    const sl = await startSidelight({ config: { ingress: { app: `h2c://127.0.0.1:${port}` }, readiness: { grpcHealth: true, interval: '50ms' } } });
    started.push(sl);
    const r = await untilCheck(sl, (c) => !c.startsWith('pending'), 'first check');
    expect(r.status).toBe(503);
    expect(r.app).toMatch(/^failing: grpc health: UNIMPLEMENTED .*grpc\.health\.v1\.Health\/Check/);
  });

  it('is not ready when the health check gets no answer within readiness.timeout, or no connection', async () => {
    const silent = createServer(() => undefined);
    const sessions: ServerHttp2Session[] = [];
    silent.on('session', (session: ServerHttp2Session) => sessions.push(session));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    const sl = await startSidelight({ config: { ingress: { app: `h2c://127.0.0.1:${port}` }, readiness: { grpcHealth: true, interval: '50ms', timeout: '200ms' } } });
    started.push(sl);
    expect(await untilCheck(sl, (c) => !c.startsWith('pending'), 'first check')).toEqual({ status: 503, app: 'failing: grpc health: timed out' });
    const closed = new Promise((resolve) => silent.close(resolve));
    for (const session of sessions) session.destroy();
    await closed;
    expect(await untilCheck(sl, (c) => c.includes('ECONNREFUSED'), 'refused')).toEqual({ status: 503, app: 'failing: grpc health: ECONNREFUSED' });
  });

  it('asks an h2c:// app its readiness.path over HTTP/2', async () => {
    const versions: string[] = [];
    const h2app = createServer((req, res) => {
      versions.push(req.httpVersion);
      res.writeHead(req.url === '/healthz' ? 200 : 404).end();
    });
    servers.push(h2app);
    await new Promise<void>((resolve) => h2app.listen(0, '127.0.0.1', resolve));
    const port = (h2app.address() as AddressInfo).port;
    const sl = await startSidelight({ config: { ingress: { app: `h2c://127.0.0.1:${port}` }, readiness: { path: '/healthz', interval: '50ms' } } });
    started.push(sl);
    expect(await untilCheck(sl, (c) => !c.startsWith('pending'), 'first check')).toEqual({ status: 200, app: 'ok' });
    expect(versions[0]).toBe('2.0');
  });

  it('refuses readiness.grpcHealth for an app that is not h2c://, and beside readiness.path: exit 2, the key named', async () => {
    for (const [readiness, words] of [
      [{ grpcHealth: true }, 'readiness.grpcHealth: the gRPC health check speaks HTTP/2 without TLS, so ingress.app must be an h2c:// URL (it is "http://127.0.0.1:50051"; write "h2c://127.0.0.1:50051")'],
      [{ grpcHealth: true, path: '/healthz' }, 'readiness.grpcHealth: set readiness.path or readiness.grpcHealth, not both'],
    ] as const) {
      const app = 'path' in readiness ? 'h2c://127.0.0.1:50051' : 'http://127.0.0.1:50051';
      const { code, stderr } = await runCli(['check', '--config', writeConfig({ ingress: { app }, readiness })]);
      expect(code, stderr).toBe(2);
      expect(stderr).toContain(words);
      expect(stderr).not.toMatch(/\n\s+at .+:\d+/);
    }
  });
});
