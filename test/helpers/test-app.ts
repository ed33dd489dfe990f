// A real app on an ephemeral port: echoes what it received, fails, hangs, streams and
// speaks WebSocket, so tests can see exactly what crossed the proxy.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  bodyBytes: number;
}

export interface TestApp {
  url: string;
  port: number;
  server: Server;
  received: ReceivedRequest[];
  /** what /healthz answers */
  setReady(ready: boolean): void;
  /** requests currently being handled */
  inflight(): number;
  /** answers every request waiting on /gate (and later ones) with 200 */
  openGate(): void;
  close(): Promise<void>;
}

/**
 * Routes:
 *  GET  /echo…            200 JSON {method, url, headers, bodyBytes}
 *  ANY  /status/:code     that status, JSON body
 *  GET  /slow?ms=N        answers after N ms
 *  GET  /download?bytes=N streams N bytes in 64 KiB chunks, honouring backpressure
 *  POST /upload           counts the body, answers {bodyBytes}
 *  GET  /reset            destroys the socket before answering
 *  GET  /reset-mid-body   sends headers and part of the body, then destroys the socket
 *  GET  /hang             never answers (until the client leaves)
 *  GET  /gate             waits until openGate() is called, then 200 {gated: true}
 *  GET  /healthz          200 or 503, see setReady
 *  GET  /hop              answers with hop-by-hop headers that must not reach the client
 *  GET  /headers?n=N&bytes=B answers with N extra headers x-h-<i>, each value B bytes long
 *  WS   /ws               echoes messages; /ws-deny answers 401 instead of upgrading
 */
export async function startTestApp(): Promise<TestApp> {
  const received: ReceivedRequest[] = [];
  let ready = true;
  let inflight = 0;
  let gateOpen = false;
  const gated: Array<() => void> = [];
  const server = createServer({ maxHeaderSize: 1024 * 1024 }, (req, res) => {
    inflight++;
    res.on('close', () => inflight--);
    let bodyBytes = 0;
    const url = new URL(req.url ?? '/', 'http://app');
    const record = () => received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, bodyBytes });
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
      res.end(text);
    };
    if (url.pathname === '/hang') {
      record();
      req.resume();
      return;
    }
    if (url.pathname === '/reset') {
      record();
      req.socket.destroy();
      return;
    }
    req.on('data', (c: Buffer) => (bodyBytes += c.length));
    req.on('end', () => {
      record();
      const path = url.pathname;
      if (path.startsWith('/status/')) return json(Number(path.slice(8)) || 500, { status: Number(path.slice(8)) });
      if (path === '/slow') {
        setTimeout(() => json(200, { slept: Number(url.searchParams.get('ms')) }), Number(url.searchParams.get('ms') ?? 1000));
        return;
      }
      if (path === '/gate') {
        const answer = () => json(200, { gated: true });
        if (gateOpen) answer();
        else gated.push(answer);
        return;
      }
      if (path === '/healthz') return json(ready ? 200 : 503, { ready });
      if (path === '/upload') return json(200, { bodyBytes });
      if (path === '/hop') {
        res.writeHead(200, { 'content-type': 'text/plain', connection: 'keep-alive, x-hop', 'x-hop': 'secret', 'keep-alive': 'timeout=5', 'x-end-to-end': 'yes' });
        return res.end('ok');
      }
      if (path === '/headers') {
        const value = 'v'.repeat(Number(url.searchParams.get('bytes') ?? 1));
        const raw: string[] = ['content-type', 'text/plain', 'content-length', '2'];
        for (let i = 0, n = Number(url.searchParams.get('n') ?? 0); i < n; i++) raw.push(`x-h-${i}`, value);
        res.writeHead(200, raw);
        return res.end('ok');
      }
      if (path === '/download') return stream(res, Number(url.searchParams.get('bytes') ?? 0));
      if (path === '/reset-mid-body') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '1000000' });
        res.write(Buffer.alloc(1000));
        setTimeout(() => req.socket.destroy(), 50);
        return;
      }
      json(200, { method: req.method, url: req.url, headers: req.headers, bodyBytes });
    });
  });
  // The app counts every header sidelight forwards: its own default (2000) must not hide a drop.
  server.maxHeadersCount = 0;
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    if (req.url === '/ws-deny') {
      socket.end('HTTP/1.1 401 Unauthorized\r\ncontent-type: text/plain\r\ncontent-length: 6\r\nconnection: close\r\n\r\ndenied');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.send(JSON.stringify({ hello: true, requestId: req.headers['x-request-id'] ?? null }));
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    received,
    setReady: (value) => (ready = value),
    inflight: () => inflight,
    openGate: () => {
      gateOpen = true;
      for (const answer of gated.splice(0)) answer();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function stream(res: import('node:http').ServerResponse, total: number): void {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      const n = Math.min(chunk.length, total - sent);
      sent += n;
      if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}
