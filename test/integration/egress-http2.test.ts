// Egress to HTTP/2 upstreams: the app speaks HTTP/1.1 to sidelight, sidelight speaks h2 by prior
// knowledge to an h2c:// upstream and offers it by ALPN to an https:// one with `http2: true`.
// The upstreams are node:http2 servers, so what crossed the wire is what they saw.
import { createServer, createSecureServer, constants, type Http2Server, type Http2ServerRequest, type Http2ServerResponse, type Http2SecureServer } from 'node:http2';
import { request } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { breakerState, metric } from '../helpers/egress.js';
import { makeCerts } from '../helpers/fake-api.js';
import { runCli, startSidelight, writeConfig, type RunningSidelight } from '../helpers/sidelight.js';

interface Seen {
  version: string;
  method: string;
  path: string;
  authority: string | undefined;
  te: string | undefined;
  body: string;
}

interface H2Api {
  port: number;
  /** its TCP connections (node:http2 keeps a session's own socket out of reach) */
  sockets: Socket[];
  seen: Seen[];
  /** how the next request is answered (default: a JSON echo with a trailer) */
  answer: (req: Http2ServerRequest, res: Http2ServerResponse) => void;
  close(): Promise<void>;
}

function echo(req: Http2ServerRequest, res: Http2ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.addTrailers({ 'x-upstream-trailer': 'done' });
  res.end(JSON.stringify({ version: req.httpVersion }));
}

async function startH2Api(server: Http2Server | Http2SecureServer): Promise<H2Api> {
  const api: H2Api = {
    port: 0,
    sockets: [],
    seen: [],
    answer: echo,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  server.on('connection', (socket: Socket) => api.sockets.push(socket));
  server.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      api.seen.push({ version: req.httpVersion, method: req.method, path: req.url, authority: req.headers[':authority'] ?? req.headers.host, te: req.headers.te as string | undefined, body });
      api.answer(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api.port = (server.address() as AddressInfo).port;
  return api;
}

/** an HTTP/1.1 request as the app sends it, with the response's trailers */
function appRequest(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  return new Promise<{ status: number; body: string; trailers: Record<string, string | undefined>; complete: boolean }>((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, trailers: res.trailers, complete: res.complete }));
      res.on('aborted', () => resolve({ status: res.statusCode ?? 0, body, trailers: {}, complete: false }));
      res.on('error', () => undefined);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('egress to HTTP/2 upstreams', () => {
  let h2c: H2Api;
  let tls: H2Api;
  let sl: RunningSidelight;

  beforeAll(async () => {
    const certs = await makeCerts();
    const caFile = join(mkdtempSync(join(tmpdir(), 'sidelight-h2-')), 'ca.pem');
    writeFileSync(caFile, certs.caCert);
    h2c = await startH2Api(createServer());
    // allowHTTP1: the same server answers HTTP/1.1 when ALPN does not offer h2
    tls = await startH2Api(createSecureServer({ key: certs.key, cert: certs.cert, allowHTTP1: true }));
    const https = `https://localhost:${tls.port}`;
    sl = await startSidelight({
      config: {
        egress: {
          upstreams: {
            cleartext: { url: `h2c://127.0.0.1:${h2c.port}` },
            hurried: { url: `h2c://127.0.0.1:${h2c.port}`, hosts: ['hurried.test'], timeout: '300ms', retry: { attempts: 0 } },
            alpn: { url: https, ca: caFile, http2: true, hosts: ['alpn.test'] },
            plain: { url: https, ca: caFile, hosts: ['plain.test'] },
          },
        },
      },
    });
  });
  afterAll(async () => {
    await sl?.stop();
    await h2c?.close();
    await tls?.close();
  });

  it('h2c://: the app’s HTTP/1.1 requests go as HTTP/2 by prior knowledge, bodies and trailers both ways', async () => {
    const got = await appRequest(`${sl.egress}/cleartext/v1/items?page=2`);
    expect(got).toMatchObject({ status: 200, body: JSON.stringify({ version: '2.0' }), trailers: { 'x-upstream-trailer': 'done' } });
    const posted = await appRequest(`${sl.egress}/cleartext/v1/items`, { method: 'POST', headers: { 'content-type': 'application/json', te: 'trailers' }, body: '{"name":"a"}' });
    expect(posted.status).toBe(200);
    expect(h2c.seen).toEqual([
      { version: '2.0', method: 'GET', path: '/v1/items?page=2', authority: `127.0.0.1:${h2c.port}`, te: undefined, body: '' },
      // te: trailers, the one TE HTTP/2 allows, goes on (gRPC servers need it)
      { version: '2.0', method: 'POST', path: '/v1/items', authority: `127.0.0.1:${h2c.port}`, te: 'trailers', body: '{"name":"a"}' },
    ]);
  });

  it('https:// with http2: true offers h2 by ALPN; without it the upstream is spoken to in HTTP/1.1', async () => {
    const alpn = await appRequest(`${sl.egress}/alpn/v1/charges`, { method: 'POST', body: 'amount=100' });
    expect(alpn).toMatchObject({ status: 200, body: JSON.stringify({ version: '2.0' }), trailers: { 'x-upstream-trailer': 'done' } });
    const plain = await appRequest(`${sl.egress}/plain/v1/charges`, { method: 'POST', body: 'amount=100' });
    expect(plain).toMatchObject({ status: 200, body: JSON.stringify({ version: '1.1' }) });
    expect(tls.seen.map((s) => [s.version, s.path, s.body])).toEqual([
      ['2.0', '/v1/charges', 'amount=100'],
      ['1.1', '/v1/charges', 'amount=100'],
    ]);
  });

  it('a request lost with a reused HTTP/2 connection is sent once more on a new one, its trailers kept', async () => {
    // the upstream drops a connection, unannounced (no GOAWAY), when its second request arrives
    const perSession = new WeakMap<object, number>();
    h2c.answer = (req, res) => {
      const session = req.stream.session!;
      const n = (perSession.get(session) ?? 0) + 1;
      perSession.set(session, n);
      if (n === 2) return void h2c.sockets.find((socket) => socket.remotePort === req.socket.remotePort)?.destroy();
      echo(req, res);
    };
    try {
      const first = await appRequest(`${sl.egress}/cleartext/v1/first`);
      const second = await appRequest(`${sl.egress}/cleartext/v1/second`);
      expect([first, second]).toMatchObject([
        { status: 200, trailers: { 'x-upstream-trailer': 'done' } },
        { status: 200, trailers: { 'x-upstream-trailer': 'done' } },
      ]);
    } finally {
      h2c.answer = echo;
    }
    expect(h2c.seen.slice(-3).map((s) => s.path)).toEqual(['/v1/first', '/v1/second', '/v1/second']);
    expect(await metric(sl.admin, 'sidelight_upstream_stale_connection_retries_total{upstream="cleartext"}')).toBe(1);
  });

  it('the per-try timeout ends an HTTP/2 try that gets no answer: 504, a breaker failure, the stream closed', async () => {
    // undici closes the stream with RST_STREAM (NO_ERROR): the upstream is not left holding it
    const closed = new Promise<boolean>((resolve) => {
      h2c.answer = (req, res) => req.stream.once('close', () => resolve(res.headersSent));
    });
    try {
      const got = await appRequest(`${sl.egress}/hurried/v1/slow`);
      expect(got.status).toBe(504);
      expect(JSON.parse(got.body)).toMatchObject({ error: 'upstream_timeout', upstream: 'hurried' });
      expect(await closed).toBe(false);
    } finally {
      h2c.answer = echo;
    }
    expect(await breakerState(sl.admin, 'hurried')).toMatchObject({ failures: 1, lastFailure: { error: 'timeout' } });
  });

  it('retries a stream the upstream refused (REFUSED_STREAM: not processed) where the retry policy allows; never after another reset', async () => {
    /** the next request's stream is reset with `code` before any answer, the ones after are answered */
    const resetNext = (code: number) => {
      let first = true;
      h2c.answer = (req, res) => {
        if (!first) return echo(req, res);
        first = false;
        res.stream.close(code);
      };
    };
    const tries = async (path: string, options: Parameters<typeof appRequest>[1], code: number) => {
      resetNext(code);
      const before = h2c.seen.length;
      const got = await appRequest(`${sl.egress}/cleartext${path}`, options);
      return { status: got.status, tries: h2c.seen.length - before };
    };
    try {
      expect(await tries('/v1/refused', {}, constants.NGHTTP2_REFUSED_STREAM)).toEqual({ status: 200, tries: 2 });
      // a POST goes twice only with an Idempotency-Key, whatever the upstream says
      expect(await tries('/v1/refused', { method: 'POST', body: 'a' }, constants.NGHTTP2_REFUSED_STREAM)).toEqual({ status: 502, tries: 1 });
      expect(await tries('/v1/refused', { method: 'POST', body: 'a', headers: { 'idempotency-key': 'k-1' } }, constants.NGHTTP2_REFUSED_STREAM)).toEqual({ status: 200, tries: 2 });
      // any other reset may come after the upstream acted on the request
      expect(await tries('/v1/broken', {}, constants.NGHTTP2_INTERNAL_ERROR)).toEqual({ status: 502, tries: 1 });
    } finally {
      h2c.answer = echo;
    }
    expect(await metric(sl.admin, 'sidelight_upstream_retries_total{upstream="cleartext",reason="refused_stream"}')).toBe(2);
  });

  it('never sends a call again once part of its answer came, even one the retry policy allows (Idempotency-Key)', async () => {
    const before = h2c.seen.length;
    h2c.answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/grpc' });
      res.write(Buffer.from([0, 0, 0, 0, 9, 1, 2]), () => res.stream.close(constants.NGHTTP2_INTERNAL_ERROR));
    };
    try {
      const got = await appRequest(`${sl.egress}/cleartext/sidelight.test.v1.Echo/Say`, {
        method: 'POST',
        headers: { 'content-type': 'application/grpc', te: 'trailers', 'idempotency-key': 'call-1' },
        body: '\0\0\0\0\0',
      });
      expect(got).toMatchObject({ status: 200, complete: false });
    } finally {
      h2c.answer = echo;
    }
    expect(h2c.seen.length - before).toBe(1);
  });
});

describe('egress http2 config', () => {
  it('refuses http2: false for an h2c:// upstream and http2: true for an http:// one: exit 2, the key named', async () => {
    for (const [upstream, words] of [
      [{ url: 'h2c://127.0.0.1:50051', http2: false }, 'egress.upstreams.api.http2: an h2c:// upstream speaks only HTTP/2; for HTTP/1.1 write "http://127.0.0.1:50051"'],
      [{ url: 'http://127.0.0.1:50051', http2: true }, 'egress.upstreams.api.http2: HTTP/2 without TLS cannot be negotiated; write "h2c://127.0.0.1:50051"'],
    ] as const) {
      const { code, stderr } = await runCli(['check', '--config', writeConfig({ egress: { upstreams: { api: upstream } } })]);
      expect(code, stderr).toBe(2);
      expect(stderr).toContain(words);
      expect(stderr).not.toMatch(/\n\s+at .+:\d+/);
    }
  });
});
