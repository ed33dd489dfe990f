// gRPC through the ingress listener, as a grpc-js client and app see it: all four call kinds,
// metadata both ways, statuses, deadlines, and sidelight's own errors as gRPC errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echoClient, failureOf, grpc, sayVia, startGrpcApp, type EchoClient, type EchoReply, type GrpcApp } from '../helpers/grpc-app.js';
import { startSidelight, type RunningSidelight } from '../helpers/sidelight.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

const hostPort = (url: string) => url.replace(/^http:\/\//, '');
const md = (reply: EchoReply) => Object.fromEntries(reply.metadata.map((kv) => kv.split(/=(.*)/s).slice(0, 2)));

describe('gRPC through ingress to an h2c app', () => {
  let app: GrpcApp;
  let sidelight: RunningSidelight;
  let client: EchoClient;

  beforeAll(async () => {
    app = await startGrpcApp();
    // A 1 s head timeout and idle timeout: streams that run longer must not be cut for it.
    sidelight = await startSidelight({ config: { ingress: { app: app.url, timeout: '1s', idleTimeout: '1s' } } });
    client = echoClient(hostPort(sidelight.ingress));
  });
  afterAll(async () => {
    client?.close();
    await sidelight?.stop();
    await app?.close();
  });

  it('unary: the reply, x-request-id both ways, traceparent and credentials to the app, the app trailers back', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('x-request-id', 'grpc-req-1');
    metadata.set('authorization', 'Bearer secret');
    metadata.set('traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    let headers: grpc.Metadata | undefined;
    let trailers: grpc.Metadata | undefined;
    const reply = await new Promise<EchoReply>((resolve, reject) => {
      const call = client.say({ message: 'hello' }, metadata, {}, (err, res) => (err ? reject(err) : resolve(res!)));
      call.on('metadata', (m) => (headers = m));
      call.on('status', (s) => (trailers = s.metadata));
    });
    expect(reply.message).toBe('hello');
    const seen = md(reply);
    expect(seen['x-request-id']).toBe('grpc-req-1');
    expect(seen.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    expect(seen.authorization).toBe('Bearer secret');
    expect(headers!.get('x-request-id')).toEqual(['grpc-req-1']);
    expect(trailers!.get('x-app-trailer')).toEqual(['yes']);
  });

  it("passes the app's error status and message on", async () => {
    const err = await failureOf(sayVia(client, { failCode: grpc.status.NOT_FOUND }));
    expect(err).toMatchObject({ code: grpc.status.NOT_FOUND, details: 'asked to fail with 5' });
    const unavailable = await failureOf(sayVia(client, { failCode: grpc.status.UNAVAILABLE }));
    expect(unavailable).toMatchObject({ code: grpc.status.UNAVAILABLE, details: 'asked to fail with 14' });
  });

  it('server streaming: every message, over a stream longer than timeout and idleTimeout together', async () => {
    const got: string[] = [];
    for await (const m of client.stream({ message: 'tick', count: 4, delayMs: 600 })) got.push((m as EchoReply).message);
    expect(got).toEqual(['tick 0', 'tick 1', 'tick 2', 'tick 3']);
  });

  it('a long stream does not hold up other calls on the same client connection', async () => {
    const call = client.stream({ message: 'slow', count: 3, delayMs: 600 });
    const got: string[] = [];
    let streamEnded = false;
    call.on('data', (m: EchoReply) => got.push(m.message));
    const ended = new Promise<void>((resolve) => call.on('end', () => resolve(void (streamEnded = true))));
    await expect.poll(() => got.length).toBe(1);
    const reply = await sayVia(client, { message: 'meanwhile' });
    expect(reply.message).toBe('meanwhile');
    expect(streamEnded).toBe(false);
    await ended;
    expect(got).toHaveLength(3);
  });

  it('client streaming: the messages arrive in order, the one reply comes back', async () => {
    const reply = await new Promise<EchoReply>((resolve, reject) => {
      const call = client.collect(new grpc.Metadata(), {}, (err, res) => (err ? reject(err) : resolve(res!)));
      for (const m of ['a', 'b', 'c']) call.write({ message: m });
      call.end();
    });
    expect(reply).toMatchObject({ message: 'a,b,c', count: 3 });
  });

  it('bidirectional: each message answered while the client keeps sending', async () => {
    const call = client.chat();
    const replies: string[] = [];
    for (const m of ['one', 'two', 'three']) {
      const next = new Promise<EchoReply>((resolve) => call.once('data', resolve));
      call.write({ message: m });
      replies.push((await next).message);
    }
    const ended = new Promise<void>((resolve) => call.on('end', resolve));
    call.end();
    await ended;
    expect(replies).toEqual(['one', 'two', 'three']);
  });

  it('bidirectional with large messages: flow control holds both ways', async () => {
    const call = client.chat();
    let bytes = 0;
    call.on('data', (m: EchoReply) => (bytes += m.pad.length));
    const ended = new Promise<void>((resolve) => call.on('end', resolve));
    for (let i = 0; i < 40; i++) call.write({ message: String(i), padBytes: 256 * 1024 });
    call.end();
    await ended;
    expect(bytes).toBe(40 * 256 * 1024);
  });

  it('a stream silent for longer than idleTimeout ends DEADLINE_EXCEEDED with the reason, after the messages it sent', async () => {
    const call = client.stream({ message: 'quiet', count: 2, delayMs: 2_500 });
    const got: string[] = [];
    call.on('data', (m: EchoReply) => got.push(m.message));
    const err = await new Promise<grpc.ServiceError>((resolve) => call.on('error', resolve));
    expect(got).toEqual(['quiet 0']);
    expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(err.details).toBe('nothing moved on this exchange for longer than idleTimeout');
  });

  it('a unary call whose answer is later than `timeout`: DEADLINE_EXCEEDED from sidelight, saying so', async () => {
    const err = await failureOf(sayVia(client, { delayMs: 2_500 }));
    expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(err.details).toBe('upstream did not answer in time');
    expect(err.metadata.get('x-request-id')).toHaveLength(1);
  });

  it('grpc-timeout: the app gets what is left of the deadline; past it the call ends DEADLINE_EXCEEDED', async () => {
    const reply = await sayVia(client, { message: 'x' }, new grpc.Metadata(), { deadline: Date.now() + 5_000 });
    const left = Number(md(reply)['deadline-ms']);
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(5_000);
    const err = await failureOf(sayVia(client, { delayMs: 3_000 }, new grpc.Metadata(), { deadline: Date.now() + 300 }));
    expect(err).toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED });
  });
});

describe("sidelight's own answers reach a gRPC client as gRPC errors", () => {
  it('the app is down: UNAVAILABLE saying so, with the request id', async () => {
    const down = await startGrpcApp();
    const url = down.url;
    await down.close();
    const sidelight = await startSidelight({ config: { ingress: { app: url } } });
    const client = echoClient(hostPort(sidelight.ingress));
    try {
      const metadata = new grpc.Metadata();
      metadata.set('x-request-id', 'down-1');
      const err = await failureOf(sayVia(client, { message: 'x' }, metadata));
      expect(err.code).toBe(grpc.status.UNAVAILABLE);
      expect(err.details).toBe('upstream refused the connection');
      expect(err.metadata.get('x-request-id')).toEqual(['down-1']);
    } finally {
      client.close();
      await sidelight.stop();
    }
  });

  it('overloaded: RESOURCE_EXHAUSTED; an app over HTTP/1.1: UNIMPLEMENTED naming the key to change', async () => {
    const app = await startGrpcApp();
    const sidelight = await startSidelight({ config: { ingress: { app: app.url }, limits: { maxInflight: 1 } } });
    const client = echoClient(hostPort(sidelight.ingress));
    const h1app: TestApp = await startTestApp();
    const h1 = await startSidelight({ config: { ingress: { app: h1app.url } } });
    const h1client = echoClient(hostPort(h1.ingress));
    try {
      const slow = sayVia(client, { delayMs: 1_500 });
      await expect.poll(() => app.calls.length).toBe(1);
      const err = await failureOf(sayVia(client, {}));
      expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(err.details).toMatch(/in flight/);
      await slow;
      const wrong = await failureOf(sayVia(h1client, {}));
      expect(wrong.code).toBe(grpc.status.UNIMPLEMENTED);
      expect(wrong.details).toContain('h2c://');
      expect(h1app.received).toHaveLength(0);
    } finally {
      client.close();
      h1client.close();
      await Promise.all([sidelight.stop(), h1.stop()]);
      await Promise.all([app.close(), h1app.close()]);
    }
  });
});
