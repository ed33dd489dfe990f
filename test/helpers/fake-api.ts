// A local HTTPS stand-in for Stripe/Twilio: a certificate for localhost/127.0.0.1 signed by a CA
// generated here (its PEM file is what sidelight's `ca` option gets), and a behaviour the test
// switches at will: answer, fail with a status, answer 429 as Stripe or Twilio do, hang, reset, reset mid-body, fail N times then
// answer, or refuse connections altogether. It counts TCP connections and records every request.
import { createServer, type Server } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';

export type Behaviour =
  | { kind: 'answer' }
  | { kind: 'status'; status: number }
  | { kind: 'hang' }
  | { kind: 'reset' }
  | { kind: 'reset-mid-body' }
  | { kind: 'stall-mid-body' }
  | { kind: 'slow'; ms: number }
  /** 429 with the vendor's own body (Stripe's rate_limit error, Twilio's 20429) and Retry-After when given */
  | { kind: 'rate-limited'; vendor: 'stripe' | 'twilio'; retryAfter?: string };

/** the 429 bodies the real APIs send */
const RATE_LIMITED_BODY = {
  stripe: { error: { type: 'invalid_request_error', code: 'rate_limit', message: 'Too many requests hit the API too quickly.' } },
  twilio: { code: 20429, message: 'Too Many Requests', more_info: 'https://www.twilio.com/docs/errors/20429', status: 429 },
};

export interface FakeRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface FakeApi {
  /** https://localhost:PORT */
  url: string;
  port: number;
  /** the CA's PEM file: give it to sidelight as `ca` */
  caFile: string;
  requests: FakeRequest[];
  /** TCP connections accepted so far */
  connections(): number;
  set(behaviour: Behaviour): void;
  /** the next `n` requests get `failure`, then the current behaviour resumes */
  failNext(n: number, failure: Behaviour): void;
  /** stop accepting connections (connection refused) / accept again on the same port */
  refuse(): Promise<void>;
  accept(): Promise<void>;
  reset(): void;
  close(): Promise<void>;
}

interface Certs {
  caCert: string;
  key: string;
  cert: string;
}

/** A CA and a server certificate it signed, for localhost, 127.0.0.1 and any extra `names` (api.twilio.com, …). */
export async function makeCerts(names: readonly string[] = []): Promise<Certs> {
  const ca = await generate([{ name: 'commonName', value: 'sidelight test CA' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  const server = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }, ...names.map((value) => ({ type: 2 as const, value }))] },
    ],
  });
  return { caCert: ca.cert, key: server.private, cert: server.cert };
}

export async function startFakeApi(options: { certs?: Certs } = {}): Promise<FakeApi> {
  const certs = options.certs ?? (await makeCerts());
  const dir = mkdtempSync(join(tmpdir(), 'sidelight-fake-'));
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, certs.caCert);

  const requests: FakeRequest[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  let behaviour: Behaviour = { kind: 'answer' };
  const queued: Behaviour[] = [];

  const server: Server = createServer({ key: certs.key, cert: certs.cert }, (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, at: Date.now() });
      const now = queued.shift() ?? behaviour;
      const json = (status: number, value: unknown, extra: Record<string, string> = {}) => {
        const text = JSON.stringify(value);
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'request-id': `req_${requests.length}`, ...extra });
        res.end(text);
      };
      switch (now.kind) {
        case 'answer':
          return json(200, { id: `obj_${requests.length}`, object: 'echo', method: req.method, url: req.url });
        case 'status':
          return json(now.status, { error: { type: 'api_error', message: `fake failure ${now.status}` } });
        case 'rate-limited':
          return json(429, RATE_LIMITED_BODY[now.vendor], now.retryAfter === undefined ? {} : { 'retry-after': now.retryAfter });
        case 'slow':
          setTimeout(() => json(200, { slept: now.ms }), now.ms);
          return;
        case 'hang':
          return;
        case 'reset':
          req.socket.destroy();
          return;
        case 'stall-mid-body':
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '100000' });
          res.write(Buffer.alloc(1000, 0x61));
          return;
        case 'reset-mid-body':
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '100000' });
          res.write(Buffer.alloc(1000, 0x61));
          setTimeout(() => req.socket.destroy(), 30);
          return;
      }
    });
  });
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const destroyAll = () => {
    for (const s of sockets) s.destroy();
  };

  return {
    url: `https://localhost:${port}`,
    port,
    caFile,
    requests,
    connections: () => connections,
    set: (b) => (behaviour = b),
    failNext: (n, failure) => {
      for (let i = 0; i < n; i++) queued.push(failure);
    },
    refuse: () =>
      new Promise<void>((resolve) => {
        destroyAll();
        server.close(() => resolve());
      }),
    accept: () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve())),
    reset: () => {
      requests.length = 0;
      queued.length = 0;
      connections = 0;
      behaviour = { kind: 'answer' };
    },
    close: () =>
      new Promise<void>((resolve) => {
        destroyAll();
        if (!server.listening) return resolve();
        server.close(() => resolve());
      }),
  };
}
