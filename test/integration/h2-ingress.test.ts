// HTTP/2 clients on the ingress port (prior knowledge, the same port as HTTP/1.1): translated for
// an HTTP/1.1 app, passed as HTTP/2 to an h2c app, and HTTP/1.1 clients reaching an h2c app.
import { execFile } from 'node:child_process';
import { connect, createServer, type Http2Server, type IncomingHttpHeaders } from 'node:http2';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidelight, type RunningSidelight } from '../helpers/sidelight.js';
import { CURL, needTool } from '../helpers/tools.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

const run = promisify(execFile);

interface H2Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One request on a node:http2 session, its whole answer */
function h2request(session: ReturnType<typeof connect>, headers: Record<string, string>, body?: Buffer): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let head: IncomingHttpHeaders = {};
    stream.on('response', (h) => (head = h));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks) }));
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
  });
}

describe('HTTP/2 clients to an HTTP/1.1 app', () => {
  let app: TestApp;
  let sidelight: RunningSidelight;

  beforeAll(async () => {
    app = await startTestApp();
    sidelight = await startSidelight({ config: { ingress: { app: app.url } } });
  });
  afterAll(async () => {
    await sidelight?.stop();
    await app?.close();
  });

  it('curl --http2-prior-knowledge: an HTTP/2 answer, the app sees HTTP/1.1 with Host from :authority', async (ctx) => {
    needTool(ctx, CURL);
    const { stdout } = await run('curl', ['-sS', '--http2-prior-knowledge', '-i', '-H', 'x-request-id: curl-h2', `${sidelight.ingress}/echo/h2?q=1`]);
    expect(stdout).toMatch(/^HTTP\/2 200/);
    expect(stdout).toMatch(/^x-request-id: curl-h2\r$/m);
    const seen = app.received.at(-1)!;
    expect(seen.url).toBe('/echo/h2?q=1');
    expect(seen.headers.host).toBe(new URL(sidelight.ingress).host);
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(Object.keys(seen.headers).filter((h) => h.startsWith(':'))).toEqual([]);
  });

  it('`Upgrade: h2c` (curl --http2 on http://) is declined: an HTTP/1.1 answer, the app never sees the offer', async (ctx) => {
    needTool(ctx, CURL);
    const { stdout } = await run('curl', ['-sS', '-i', '--http2', `${sidelight.ingress}/echo/offer`]);
    expect(stdout).toMatch(/^HTTP\/1.1 200 OK/);
    const seen = app.received.at(-1)!;
    expect(seen.url).toBe('/echo/offer');
    expect(seen.headers.upgrade).toBeUndefined();
    expect(seen.headers['http2-settings']).toBeUndefined();
  });

  it('HTTP/1.1 clients keep working on the same port', async (ctx) => {
    needTool(ctx, CURL);
    const { stdout } = await run('curl', ['-sS', '-i', `${sidelight.ingress}/echo/h1`]);
    expect(stdout).toMatch(/^HTTP\/1.1 200 OK/);
  });

  it('node:http2: concurrent streams on one connection, an upload and a download with flow control', async () => {
    const session = connect(sidelight.ingress);
    try {
      const authority = new URL(sidelight.ingress).host;
      const upload = Buffer.alloc(3 * 1024 * 1024, 7);
      const [up, down, ...echoes] = await Promise.all([
        h2request(session, { ':method': 'POST', ':path': '/upload', ':authority': authority }, upload),
        h2request(session, { ':path': `/download?bytes=${5 * 1024 * 1024}`, ':authority': authority }),
        ...Array.from({ length: 20 }, (_, i) => h2request(session, { ':path': `/echo/${i}`, ':authority': authority })),
      ]);
      expect(JSON.parse(up.body.toString())).toEqual({ bodyBytes: upload.length });
      expect(down.body.length).toBe(5 * 1024 * 1024);
      expect(echoes.map((e) => e.status)).toEqual(Array(20).fill(200));
      expect(new Set(echoes.map((e) => e.headers['x-request-id'])).size).toBe(20);
    } finally {
      session.close();
    }
  });

  it("sidelight's own answers keep their JSON body, without HTTP/1.1's Connection header", async () => {
    const down = await startTestApp();
    await down.close();
    const sl = await startSidelight({ config: { ingress: { app: down.url } } });
    const session = connect(sl.ingress);
    try {
      const res = await h2request(session, { ':path': '/x', ':authority': 'example' });
      expect(res.status).toBe(502);
      expect(JSON.parse(res.body.toString())).toMatchObject({ error: 'upstream_unreachable', requestId: res.headers['x-request-id'] });
      expect(res.headers.connection).toBeUndefined();
    } finally {
      session.close();
      await sl.stop();
    }
  });
});

describe('HTTP/2 early answers', () => {
  it("an answer before the upload ends: the client gets it, the rest of the upload is refused on that stream only", async () => {
    // An app that refuses the upload on its head alone.
    const refusing = createHttpServer((_req, res) => {
      res.writeHead(413, { 'content-type': 'text/plain' });
      res.end('too large');
    });
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
    const sl = await startSidelight({ config: { ingress: { app: `http://127.0.0.1:${(refusing.address() as AddressInfo).port}` } } });
    const session = connect(sl.ingress);
    try {
      const authority = new URL(sl.ingress).host;
      const answer = await new Promise<H2Answer & { rstCode: number }>((resolve, reject) => {
        const stream = session.request({ ':method': 'POST', ':path': '/status/413', ':authority': authority });
        let head: IncomingHttpHeaders = {};
        const chunks: Buffer[] = [];
        stream.on('response', (h) => (head = h));
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('error', reject);
        stream.on('close', () => resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks), rstCode: stream.rstCode ?? -1 }));
        // Part of a body whose end never comes (under the 64 KiB flow-control window).
        stream.write(Buffer.alloc(32 * 1024));
      });
      expect(answer.status).toBe(413);
      expect(answer.rstCode).toBe(0);
      expect(answer.body.toString()).toBe('too large');
      const after = await h2request(session, { ':path': '/next', ':authority': authority });
      expect(after.status).toBe(413);
      const line = await sl.waitForLog((l) => l.msg === 'request' && l.requestIncomplete === true);
      expect(line).toMatchObject({ status: 413, bytesIn: 32 * 1024 });
    } finally {
      session.close();
      await sl.stop();
      refusing.close();
    }
  });

});

describe('an h2c app', () => {
  let app: Http2Server;
  let seen: Array<{ version: string; headers: IncomingHttpHeaders }>;
  let sidelight: RunningSidelight;

  beforeAll(async () => {
    seen = [];
    app = createServer((req, res) => {
      seen.push({ version: req.httpVersion, headers: req.headers });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`hello over ${req.httpVersion}`);
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const port = (app.address() as AddressInfo).port;
    sidelight = await startSidelight({ config: { ingress: { app: `h2c://127.0.0.1:${port}` } } });
  });
  afterAll(async () => {
    await sidelight?.stop();
    await new Promise((resolve) => app?.close(resolve));
  });

  it('HTTP/1.1 clients reach it over HTTP/2', async () => {
    const res = await fetch(`${sidelight.ingress}/one`);
    expect(await res.text()).toBe('hello over 2.0');
    expect(seen.at(-1)!.headers[':path']).toBe('/one');
    expect(seen.at(-1)!.headers['x-request-id']).toBe(res.headers.get('x-request-id'));
  });

  it('HTTP/2 clients too, with the Host they named as :authority', async (ctx) => {
    needTool(ctx, CURL);
    const { stdout } = await run('curl', ['-sS', '--http2-prior-knowledge', '-H', 'host: shop.example', `${sidelight.ingress}/two`]);
    expect(stdout).toBe('hello over 2.0');
    expect(seen.at(-1)!.headers[':authority']).toBe('shop.example');
  });

  it('`sidelight check` shows the app as written', async () => {
    const { stdout } = await run(process.execPath, ['dist/cli.js', 'check', '--app', 'h2c://127.0.0.1:50051']);
    expect(JSON.parse(stdout).ingress.app).toBe('h2c://127.0.0.1:50051');
  });
});
