// gRPC through egress, as a grpc-js client and app see it: the client dials an upstream's
// dedicated listener (HTTP/2 by prior knowledge), sidelight calls the h2c:// app; and the
// upstream's breaker judges the calls by their grpc-status, not by HTTP's 200.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { breakerState } from '../helpers/egress.js';
import { echoClient, failureOf, grpc, sayVia, startGrpcApp, type EchoClient, type EchoReply, type GrpcApp } from '../helpers/grpc-app.js';
import { send } from '../helpers/http.js';
import { startSidelight, type RunningSidelight } from '../helpers/sidelight.js';

const hostPort = (url: string) => url.replace(/^http:\/\//, '');

describe('gRPC through egress to an h2c:// upstream', () => {
  let app: GrpcApp;
  let sl: RunningSidelight;
  let client: EchoClient;

  beforeAll(async () => {
    app = await startGrpcApp();
    sl = await startSidelight({
      config: {
        egress: {
          upstreams: {
            echo: {
              url: app.url,
              listen: '127.0.0.1:0',
              retry: { attempts: 0 },
              breaker: { volumeThreshold: 4, errorThresholdPercentage: 50, resetTimeout: '1m', rollingWindow: '1m' },
            },
          },
        },
      },
    });
    client = echoClient(hostPort(sl.url['egress:echo']));
  });
  afterAll(async () => {
    client?.close();
    await sl?.stop();
    await app?.close();
  });

  it('unary and server streaming calls, with the app’s statuses and trailers back', async () => {
    expect((await sayVia(client, { message: 'hello' })).message).toBe('hello');
    const got: string[] = [];
    for await (const m of client.stream({ message: 'tick', count: 3 })) got.push((m as EchoReply).message);
    expect(got).toEqual(['tick 0', 'tick 1', 'tick 2']);
    expect(await failureOf(sayVia(client, { failCode: grpc.status.NOT_FOUND }))).toMatchObject({ code: grpc.status.NOT_FOUND, details: 'asked to fail with 5' });
    expect(await breakerState(sl.admin, 'echo')).toMatchObject({ state: 'closed', failures: 0 });
  });

  it('NOT_FOUND answers, the caller’s problem, never open the breaker', async () => {
    for (let i = 0; i < 6; i++) {
      expect(await failureOf(sayVia(client, { failCode: grpc.status.NOT_FOUND }))).toMatchObject({ code: grpc.status.NOT_FOUND });
    }
    expect(await breakerState(sl.admin, 'echo')).toMatchObject({ state: 'closed', failures: 0 });
  });

  it('UNAVAILABLE answers (HTTP 200 with grpc-status 14) open it; then calls fail fast as UNAVAILABLE, the app never called', async () => {
    // a fresh window: the successes above would keep the failure rate under 50%
    expect((await send(`${sl.admin}/circuit-breakers/echo/reset`, { method: 'POST' })).status).toBe(200);
    // grpc-js answers a unary failure trailers-only (grpc-status in the head) …
    for (let i = 0; i < 2; i++) {
      expect(await failureOf(sayVia(client, { failCode: grpc.status.UNAVAILABLE }))).toMatchObject({ code: grpc.status.UNAVAILABLE, details: 'asked to fail with 14' });
    }
    // … and a stream that fails after its messages in the trailers
    for (let i = 0; i < 2; i++) {
      const got: string[] = [];
      const failed = await failureOf((async () => {
        for await (const m of client.stream({ message: 'tick', count: 2, failCode: grpc.status.UNAVAILABLE })) got.push((m as EchoReply).message);
      })());
      expect(failed.code).toBe(grpc.status.UNAVAILABLE);
      expect(got).toEqual(['tick 0', 'tick 1']);
    }
    expect(await breakerState(sl.admin, 'echo')).toMatchObject({ state: 'open', failures: 4, lastFailure: { error: 'grpc_UNAVAILABLE' } });
    const calls = app.calls.length;
    const refused = await failureOf(sayVia(client, { message: 'again' }));
    expect(refused.code).toBe(grpc.status.UNAVAILABLE);
    expect(refused.details).toMatch(/circuit breaker for echo is open/);
    expect(app.calls.length).toBe(calls);
  });
});
