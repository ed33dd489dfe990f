// Invisible to HTTP/1.1 apps (issue 20): `timeout` ends at the response head, `idleTimeout`
// measures silence, so healthy streams and slow uploads pass; a cut stream never looks like a
// clean end and its log line names the cause; 1xx answers reach the client in order.
import { connect } from 'node:http2';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { rawAppBehindSidelight, readBody, trickle, type RawRequest } from '../helpers/raw-app.js';
import { openConnection, rawRequest } from '../helpers/raw-http.js';
import type { LogLine, RunningSidelight } from '../helpers/sidelight.js';

const CHUNKED_HEAD = 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n';
const chunk = (text: string) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;

/** `count` chunks `gapMs` apart, then the last chunk */
function stream(count: number, gapMs: number) {
  return (socket: Socket) => {
    socket.write(CHUNKED_HEAD);
    const parts = Array.from({ length: count }, (_, i) => chunk(`part ${i}\n`));
    trickle((c) => socket.write(c), parts, gapMs, () => socket.end('0\r\n\r\n'));
  };
}

/** the head and one chunk, then silence until the connection closes */
function stall(socket: Socket): void {
  socket.write(CHUNKED_HEAD + chunk('first\n'));
}

/** reads the whole request body, then answers with its size */
function countUpload(socket: Socket, req: RawRequest, rest: Buffer): void {
  readBody(socket, req, rest, (bytes) => {
    const body = JSON.stringify({ bytes });
    socket.end(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
  });
}

function earlyHints(socket: Socket): void {
  socket.write('HTTP/1.1 102 Processing\r\n\r\n');
  socket.write('HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload; as=style\r\nlink: </app.js>; rel=preload; as=script\r\n\r\n');
  setTimeout(() => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello'), 50);
}

/** `Expect: 100-continue`: 100 and the body is read, or 417 when the expectation did not come through */
function continueUpload(socket: Socket, req: RawRequest, rest: Buffer): void {
  if (req.headers.expect !== '100-continue') return void socket.end('HTTP/1.1 417 Expectation Failed\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
  socket.write('HTTP/1.1 100 Continue\r\n\r\n');
  countUpload(socket, req, rest);
}

/** refuses an upload on its head alone, as an app checking credentials does */
function refuseOnHead(socket: Socket): void {
  socket.end('HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
}

/** 8 chunks of 10 bytes 0.5 s apart (4 s in all); resolves with what came back once the app counted them */
async function trickledUpload(url: string, path: string): Promise<string> {
  const conn = await openConnection(url);
  conn.write(`POST ${path} HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n`);
  const parts = Array.from({ length: 8 }, () => chunk('0123456789'));
  trickle((c) => conn.write(c), parts, 500, () => conn.write('0\r\n\r\n'));
  await conn.waitFor(/\{"bytes":\d+\}/);
  conn.destroy();
  return conn.received();
}

const byPath = (sl: RunningSidelight, path: string) => sl.waitForLog((l: LogLine) => l.msg === 'request' && l.path === path);

describe('timeouts that never cut a healthy exchange', () => {
  const ctx = rawAppBehindSidelight(
    { '/stream': stream(20, 500), '/events/feed': stream(2, 1_500), '/slow-gap': stream(2, 1_500), '/stall': stall, '/upload': countUpload, '/hints': earlyHints },
    (app) => ({ ingress: { app, timeout: '2s', idleTimeout: '1s', routeTimeouts: { '/events/*': { idleTimeout: '0s' } } } }),
  );

  it('a 10 s stream (20 chunks 0.5 s apart) under a 2 s timeout and a 1 s idleTimeout arrives whole', async () => {
    const res = await send(`${ctx.sl.ingress}/stream`);
    expect(res.status).toBe(200);
    expect(res.body.split('\n').filter(Boolean)).toHaveLength(20);
    expect(await byPath(ctx.sl, '/stream')).toMatchObject({ status: 200 });
    expect((await byPath(ctx.sl, '/stream')).error).toBeUndefined();
  });

  it('a stream silent for longer than idleTimeout is cut mid-body, without its last chunk, and logged as stream_idle_timeout', async () => {
    const conn = await openConnection(ctx.sl.ingress);
    conn.write('GET /stall HTTP/1.1\r\nhost: x\r\n\r\n');
    await conn.waitFor(/first\n/);
    await conn.ended;
    expect(conn.received()).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(conn.received()).not.toContain('0\r\n\r\n');
    expect(await byPath(ctx.sl, '/stall')).toMatchObject({ status: 200, error: 'stream_idle_timeout' });
    const metrics = await send(`${ctx.sl.admin}/metrics`);
    expect(metrics.body).toMatch(/http_server_request_duration_seconds_count\{[^}]*http_response_status_code="200"[^}]*error_type="stream_idle_timeout"/);
  });

  it('a route with idleTimeout 0s has no idle limit; the same gap elsewhere is cut', async () => {
    const free = await send(`${ctx.sl.ingress}/events/feed`);
    expect(free.body).toBe('part 0\npart 1\n');
    await expect(send(`${ctx.sl.ingress}/slow-gap`)).rejects.toThrow();
    expect(await byPath(ctx.sl, '/slow-gap')).toMatchObject({ status: 200, error: 'stream_idle_timeout' });
  });

  it('a trickled upload (8 chunks 0.5 s apart) reaches the app whole under a 2 s timeout', async () => {
    expect(await trickledUpload(ctx.sl.ingress, '/upload')).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(await byPath(ctx.sl, '/upload')).toMatchObject({ status: 200, bytesIn: 80 });
  });

  it('102 and 103 Early Hints reach an HTTP/1.1 client in order, with their headers, before the final answer', async () => {
    const answer = await rawRequest(ctx.sl.ingress, 'GET /hints HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
    const text = `${answer.head}\r\n\r\n${answer.body}`;
    const processing = text.indexOf('HTTP/1.1 102 Processing\r\n');
    const hints = text.indexOf('HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload; as=style\r\nlink: </app.js>; rel=preload; as=script\r\n\r\n');
    const final = text.indexOf('HTTP/1.1 200 OK');
    expect(processing).toBe(0);
    expect(hints).toBeGreaterThan(processing);
    expect(final).toBeGreaterThan(hints);
    expect(text.endsWith('hello')).toBe(true);
    expect(await byPath(ctx.sl, '/hints')).toMatchObject({ status: 200, bytesOut: 5 });
  });

  it('an HTTP/2 client gets 102 and 103 with their headers as informational HEADERS, then the answer', async () => {
    const session = connect(ctx.sl.ingress);
    try {
      const seen: Array<Record<string, unknown>> = [];
      const body = await new Promise<string>((resolve, reject) => {
        const stream = session.request({ ':path': '/hints' });
        stream.on('headers', (h) => seen.push({ ...h }));
        stream.on('response', (h) => seen.push({ ...h }));
        let text = '';
        stream.setEncoding('utf8');
        stream.on('data', (d: string) => (text += d));
        stream.on('end', () => resolve(text));
        stream.on('error', reject);
      });
      expect(seen.map((h) => h[':status'])).toEqual([102, 103, 200]);
      expect(seen[1].link).toBe('</style.css>; rel=preload; as=style, </app.js>; rel=preload; as=script');
      expect(body).toBe('hello');
    } finally {
      session.close();
    }
  });

  it('an HTTP/1.0 client gets no 1xx, only the final answer', async () => {
    const answer = await rawRequest(ctx.sl.ingress, 'GET /hints HTTP/1.0\r\nhost: x\r\n\r\n');
    expect(answer.status).toBe(200);
    expect(answer.head).not.toMatch(/ 10[23] /);
    expect(answer.body).toBe('hello');
  });
});

describe('Expect: 100-continue', () => {
  const ctx = rawAppBehindSidelight({ '/continue': continueUpload, '/refuse': refuseOnHead }, (app) => ({ ingress: { app } }));
  const head = (path: string) => `POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\nexpect: 100-continue\r\n\r\n`;

  it("goes to the app: the client gets the app's 100, then sends its body", async () => {
    const conn = await openConnection(ctx.sl.ingress);
    conn.write(head('/continue'));
    await conn.waitFor(/^HTTP\/1\.1 100 Continue\r\n\r\n/);
    conn.write('0123456789');
    await conn.waitFor(/\{"bytes":10\}/);
    expect(conn.received()).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK/);
    conn.destroy();
  });

  it("an app that refuses on the head alone: the client gets its 401, no 100, and the body is never sent", async () => {
    const conn = await openConnection(ctx.sl.ingress);
    conn.write(head('/refuse'));
    await conn.waitFor(/^HTTP\/1\.1 401 Unauthorized\r\n/);
    expect(ctx.app.received.find((r) => r.path === '/refuse')?.headers.expect).toBe('100-continue');
    expect(await conn.ended).toBe('end');
    expect(conn.received()).not.toContain('100 Continue');
    expect(await byPath(ctx.sl, '/refuse')).toMatchObject({ status: 401, bytesIn: 0 });
  });
});

describe('maxDuration', () => {
  const ctx = rawAppBehindSidelight({ '/stream': stream(20, 100) }, (app) => ({ ingress: { app, maxDuration: '1s' } }));

  it('cuts a stream that outlives it, and the log says max_duration', async () => {
    await expect(send(`${ctx.sl.ingress}/stream`)).rejects.toThrow();
    expect(await byPath(ctx.sl, '/stream')).toMatchObject({ status: 200, error: 'max_duration' });
  });
});

describe('timeout: 0s', () => {
  const later = (socket: Socket) => setTimeout(() => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok'), 300);
  const ctx = rawAppBehindSidelight({ '/later': later }, (app) => ({ ingress: { app, timeout: '0s' } }));

  it('means no limit', async () => {
    const res = await send(`${ctx.sl.ingress}/later`);
    expect(res.status).toBe(200);
    expect(res.body).toBe('ok');
  });
});

describe('egress timeouts', () => {
  const ctx = rawAppBehindSidelight({ '/stream': stream(8, 500), '/upload': countUpload }, (url) => ({
    egress: { upstreams: { feed: { url, timeout: '1s', requestTimeout: '2s', retry: { attempts: 0 } } } },
  }));

  it('ends at the response head: a 4 s answer streaming under a 2 s requestTimeout arrives whole', async () => {
    const res = await send(`${ctx.sl.egress}/feed/stream`);
    expect(res.status).toBe(200);
    expect(res.body.split('\n').filter(Boolean)).toHaveLength(8);
  });

  it('the per-try timeout counts from the end of the request body: a 4 s trickled upload under a 1 s timeout gets its answer', async () => {
    expect(await trickledUpload(ctx.sl.egress, '/feed/upload')).toMatch(/^HTTP\/1\.1 200 OK/);
  });
});
