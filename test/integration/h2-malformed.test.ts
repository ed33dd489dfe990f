// Malformed and abusive HTTP/2 input, written frame by frame: each gets a clean connection
// (or stream) error, and the process and every other connection carry on.
import { connect } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLAG, FRAME, frame, getHeaders, headerBlock, headersFrames, rawH2, rstStream, type RawH2 } from '../helpers/h2-frames.js';
import { startSidelight, type RunningSidelight } from '../helpers/sidelight.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

const PROTOCOL_ERROR = 1;
const REFUSED_STREAM = 7;
const ENHANCE_YOUR_CALM = 11;

describe('malformed HTTP/2 input', () => {
  let app: TestApp;
  let sidelight: RunningSidelight;
  let port: number;
  /** a well-behaved HTTP/2 connection opened first: it must outlive every bad one */
  let bystander: ReturnType<typeof connect>;

  const bystanderStillServed = async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const stream = bystander.request({ ':path': '/echo/bystander' });
      stream.on('response', (h) => resolve(Number(h[':status'])));
      stream.on('error', reject);
      stream.resume();
    });
    expect(status).toBe(200);
    expect((await fetch(`${sidelight.ingress}/echo/h1`)).status).toBe(200);
  };

  beforeAll(async () => {
    app = await startTestApp();
    sidelight = await startSidelight({ config: { ingress: { app: app.url }, limits: { maxHeaderBytes: 8192, maxConcurrentStreams: 10 } } });
    port = Number(new URL(sidelight.ingress).port);
    bystander = connect(sidelight.ingress);
    bystander.on('error', () => {});
  });
  afterAll(async () => {
    bystander?.close();
    await sidelight?.stop();
    await app?.close();
  });

  it('a bad preface: the connection closes, nothing reaches the app', async () => {
    const before = app.received.length;
    const conn = await rawH2(port, Buffer.from('PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n', 'latin1'));
    await conn.closed;
    expect(app.received.length).toBe(before);
    await bystanderStillServed();
  });

  it('DATA on stream 0, where it may not be: GOAWAY PROTOCOL_ERROR', async () => {
    const conn = await rawH2(port);
    conn.write(frame(FRAME.DATA, 0, 0, Buffer.from('x')));
    await conn.waitFor((f) => f.type === FRAME.GOAWAY);
    expect(conn.goawayCode()).toBe(PROTOCOL_ERROR);
    conn.socket.destroy();
    await bystanderStillServed();
  });

  it('a flood of RST_STREAM (rapid reset): the connection is closed, few requests reach the app', async () => {
    const before = app.received.length;
    const conn = await rawH2(port);
    const frames: Buffer[] = [];
    for (let i = 0; i < 5_000; i++) frames.push(getHeaders(1 + 2 * i, 'x', '/echo/reset'), rstStream(1 + 2 * i));
    conn.write(Buffer.concat(frames));
    await conn.closed;
    expect(conn.goawayCode()).toBe(ENHANCE_YOUR_CALM);
    // Each stream reset before its answer still cost one request to the app: far fewer than 5,000.
    expect(app.received.length - before).toBeLessThan(500);
    await sidelight.waitForLog((l) => l.msg === 'HTTP/2 connection closed: the client abused the protocol' && l.reason === 'premature_resets');
    const metrics = await (await fetch(`${sidelight.admin}/metrics`)).text();
    expect(metrics).toMatch(/^sidelight_http2_connections_closed_total\{listener="ingress",reason="premature_resets"\} [1-9]/m);
    await bystanderStillServed();
  });

  it('a flood of SETTINGS whose acknowledgements are never read: the connection is closed', async () => {
    const conn = await rawH2(port);
    conn.socket.pause();
    conn.write(Buffer.concat(Array.from({ length: 50_000 }, () => frame(FRAME.SETTINGS, 0, 0))));
    conn.socket.resume();
    await conn.closed;
    expect(conn.goawayCode()).not.toBe(0);
    await bystanderStillServed();
  });

  it('a header block past limits.maxHeaderBytes: 431 on that stream, the connection goes on', async () => {
    const conn = await rawH2(port);
    const block = headerBlock([[':method', 'GET'], [':scheme', 'http'], [':path', '/echo/big'], [':authority', 'x'], ['x-big', 'a'.repeat(20_000)]]);
    conn.write(headersFrames(1, block));
    const head = await conn.waitFor((f) => f.type === FRAME.HEADERS && f.streamId === 1);
    // :status 431 as HPACK's static table entry (":status" is index 8..14; 431 is a literal)
    expect(head.payload.includes(Buffer.from('431'))).toBe(true);
    conn.write(getHeaders(3, 'x', '/echo/after'));
    const next = await conn.waitFor((f) => f.type === FRAME.HEADERS && f.streamId === 3);
    expect(next.flags & FLAG.END_HEADERS).toBeTruthy();
    expect(app.received.some((r) => r.url === '/echo/big')).toBe(false);
    expect(app.received.some((r) => r.url === '/echo/after')).toBe(true);
    await sidelight.waitForLog((l) => l.msg === 'request' && l.path === '/echo/big' && l.status === 431);
    conn.socket.destroy();
  });

  it('more streams than maxConcurrentStreams: the extra ones are refused (REFUSED_STREAM), the rest answered', async () => {
    const conn: RawH2 = await rawH2(port);
    const frames: Buffer[] = [];
    for (let i = 0; i < 15; i++) frames.push(getHeaders(1 + 2 * i, 'x', '/hang'));
    conn.write(Buffer.concat(frames));
    await conn.waitFor((f) => f.type === FRAME.RST_STREAM);
    const refused = conn.frames.filter((f) => f.type === FRAME.RST_STREAM);
    expect(refused.length).toBeGreaterThanOrEqual(5);
    expect(refused.every((f) => f.payload.readUInt32BE(0) === REFUSED_STREAM)).toBe(true);
    await expect.poll(() => app.inflight()).toBe(10);
    conn.socket.destroy();
    await expect.poll(() => app.inflight()).toBe(0);
    await bystanderStillServed();
  });
});
