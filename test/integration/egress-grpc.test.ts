// gRPC through egress, as a grpc-js client and app see it: the client dials an upstream's
// dedicated listener (HTTP/2 by prior knowledge), sidelight calls the h2c:// app; and the
// upstream's breaker judges the calls by their grpc-status, not by HTTP's 200.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { breakerState } from '../helpers/egress.js';
import { makeCerts } from '../helpers/fake-api.js';
import { echoClient, failureOf, grpc, sayVia, startGrpcApp, type EchoClient, type EchoReply, type GrpcApp } from '../helpers/grpc-app.js';
import { send } from '../helpers/http.js';
import { startSidelight, type RunningSidelight } from '../helpers/sidelight.js';

const hostPort = (url: string) => url.replace(/^http:\/\//, '');

/**
 * A grpc-js app, a sidelight whose "echo" upstream is that app (no retries, this breaker, its own
 * listener) and a client of that listener, for the tests of one describe block. `tls`: the app
 * serves gRPC over TLS and the upstream is https:// with http2 and the test CA.
 */
function egressToGrpcApp(options: { config?: Record<string, unknown>; breaker?: Record<string, unknown>; tls?: boolean }) {
  const setup = {} as { app: GrpcApp; sl: RunningSidelight; client: EchoClient };
  beforeAll(async () => {
    const certs = options.tls ? await makeCerts() : undefined;
    setup.app = await startGrpcApp(0, certs);
    const trust = certs ? { http2: true, ca: writeCa(certs.caCert) } : {};
    const breaker = { ...options.breaker, resetTimeout: '1m', rollingWindow: '1m' };
    const echo = { url: setup.app.url, listen: '127.0.0.1:0', retry: { attempts: 0 }, breaker, ...trust };
    setup.sl = await startSidelight({ config: { ...options.config, egress: { upstreams: { echo } } } });
    setup.client = echoClient(hostPort(setup.sl.url['egress:echo']));
  });
  afterAll(async () => {
    setup.client?.close();
    await setup.sl?.stop();
    await setup.app?.close();
  });
  return setup;
}

function writeCa(pem: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'sidelight-grpc-')), 'ca.pem');
  writeFileSync(file, pem);
  return file;
}

describe('gRPC through egress to an h2c:// upstream', () => {
  const setup = egressToGrpcApp({ breaker: { volumeThreshold: 4, errorThresholdPercentage: 50 } });

  it('unary and server streaming calls, with the app’s statuses and trailers back', async () => {
    expect((await sayVia(setup.client, { message: 'hello' })).message).toBe('hello');
    const got: string[] = [];
    for await (const m of setup.client.stream({ message: 'tick', count: 3 })) got.push((m as EchoReply).message);
    expect(got).toEqual(['tick 0', 'tick 1', 'tick 2']);
    expect(await failureOf(sayVia(setup.client, { failCode: grpc.status.NOT_FOUND }))).toMatchObject({ code: grpc.status.NOT_FOUND, details: 'asked to fail with 5' });
    expect(await breakerState(setup.sl.admin, 'echo')).toMatchObject({ state: 'closed', failures: 0 });
  });

  it('bidirectional streaming: each message echoed as it arrives, both ways through sidelight', async () => {
    const call = setup.client.chat();
    const replies: string[] = [];
    for (const message of ['one', 'two', 'three']) {
      const reply = new Promise<EchoReply>((resolve) => call.once('data', resolve));
      call.write({ message });
      // the next message goes only once this one's echo came back through sidelight
      replies.push((await reply).message);
    }
    call.end();
    await new Promise((resolve) => call.on('status', resolve));
    expect(replies).toEqual(['one', 'two', 'three']);
  });

  it('NOT_FOUND answers, the caller’s problem, never open the breaker', async () => {
    for (let i = 0; i < 6; i++) {
      expect(await failureOf(sayVia(setup.client, { failCode: grpc.status.NOT_FOUND }))).toMatchObject({ code: grpc.status.NOT_FOUND });
    }
    expect(await breakerState(setup.sl.admin, 'echo')).toMatchObject({ state: 'closed', failures: 0 });
  });

  it('UNAVAILABLE answers (HTTP 200 with grpc-status 14) open it; then calls fail fast as UNAVAILABLE, the app never called', async () => {
    // a fresh window: the successes above would keep the failure rate under 50%
    expect((await send(`${setup.sl.admin}/circuit-breakers/echo/reset`, { method: 'POST' })).status).toBe(200);
    // grpc-js answers a unary failure trailers-only (grpc-status in the head) …
    for (let i = 0; i < 2; i++) {
      expect(await failureOf(sayVia(setup.client, { failCode: grpc.status.UNAVAILABLE }))).toMatchObject({ code: grpc.status.UNAVAILABLE, details: 'asked to fail with 14' });
    }
    // … and a stream that fails after its messages in the trailers
    for (let i = 0; i < 2; i++) {
      const got: string[] = [];
      const failed = await failureOf((async () => {
        for await (const m of setup.client.stream({ message: 'tick', count: 2, failCode: grpc.status.UNAVAILABLE })) got.push((m as EchoReply).message);
      })());
      expect(failed.code).toBe(grpc.status.UNAVAILABLE);
      expect(got).toEqual(['tick 0', 'tick 1']);
    }
    expect(await breakerState(setup.sl.admin, 'echo')).toMatchObject({ state: 'open', failures: 4, lastFailure: { error: 'grpc_UNAVAILABLE' } });
    const calls = setup.app.calls.length;
    const refused = await failureOf(sayVia(setup.client, { message: 'again' }));
    expect(refused.code).toBe(grpc.status.UNAVAILABLE);
    expect(refused.details).toMatch(/circuit breaker for echo is open/);
    expect(setup.app.calls.length).toBe(calls);
  });
});

describe('grpc.errorCodes decides what the egress breaker counts', () => {
  const setup = egressToGrpcApp({ config: { grpc: { errorCodes: ['NOT_FOUND'] } }, breaker: { volumeThreshold: 3 } });

  it('counts only the configured statuses: UNAVAILABLE is then an answer, NOT_FOUND a failure', async () => {
    for (let i = 0; i < 3; i++) await failureOf(sayVia(setup.client, { failCode: grpc.status.UNAVAILABLE }));
    expect(await breakerState(setup.sl.admin, 'echo')).toMatchObject({ state: 'closed', failures: 0, successes: 3 });
    expect((await send(`${setup.sl.admin}/circuit-breakers/echo/reset`, { method: 'POST' })).status).toBe(200);
    for (let i = 0; i < 3; i++) await failureOf(sayVia(setup.client, { failCode: grpc.status.NOT_FOUND }));
    expect(await breakerState(setup.sl.admin, 'echo')).toMatchObject({ state: 'open', failures: 3, lastFailure: { error: 'grpc_NOT_FOUND' } });
  });
});

describe('gRPC through egress to an https:// upstream with http2', () => {
  const setup = egressToGrpcApp({ tls: true });

  it('calls a gRPC server over TLS, h2 chosen by ALPN, the certificate checked against the configured ca', async () => {
    expect((await sayVia(setup.client, { message: 'over tls' })).message).toBe('over tls');
    const got: string[] = [];
    for await (const m of setup.client.stream({ message: 'tick', count: 2 })) got.push((m as EchoReply).message);
    expect(got).toEqual(['tick 0', 'tick 1']);
    expect(await failureOf(sayVia(setup.client, { failCode: grpc.status.UNAVAILABLE }))).toMatchObject({ code: grpc.status.UNAVAILABLE, details: 'asked to fail with 14' });
    expect(await breakerState(setup.sl.admin, 'echo')).toMatchObject({ failures: 1, lastFailure: { error: 'grpc_UNAVAILABLE' } });
  });
});
