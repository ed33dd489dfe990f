// HTTP servers for the proxy listeners, and binding with a clear error naming the config key.
import { createServer, type Server } from 'node:http';
import { constants as h2constants, createServer as createH2Server, type Http2Server, type Http2ServerRequest, type Http2ServerResponse, type Http2Session, type ServerHttp2Stream } from 'node:http2';
import type { Server as NetServer, Socket } from 'node:net';
import type { ListenAddress } from '../config/values.js';
import { formatListen } from '../config/values.js';
import { rejection } from '../errors.js';
import { FrontDoor } from './front-door.js';
import { headerPairsWithin } from './headers.js';
import type { Pipeline } from './pipeline.js';
import { refusedRequest } from './refused-request.js';

export class ListenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ListenError';
  }
}

export interface ProxyLimits {
  readonly maxHeaderBytes: number;
  readonly maxConcurrentStreams: number;
}

/** A connection closed for abusing the protocol: the listener's name and why ("premature_resets") */
export type AbuseListener = (listener: string, reason: string) => void;

/** A proxy listener: HTTP/1.1 and HTTP/2 with prior knowledge on one port (src/proxy/front-door.ts). */
export function createProxyListener(pipeline: Pipeline, limits: ProxyLimits, onAbuse: AbuseListener): FrontDoor {
  return new FrontDoor(createProxyServer(pipeline, limits.maxHeaderBytes), createProxyH2Server(pipeline, limits, onAbuse));
}

/**
 * How long an HTTP/2 connection with no stream open is kept: as HTTP/1.1 keep-alive (65 s, past
 * the 60 s most load balancers and clients use) so the client, not sidelight, closes first.
 */
const H2_IDLE_MS = 65_000;

/**
 * Streams a client may reset before their answer, past which (when they are also most of its
 * streams) the connection is closed: each reset stream still cost a request to the app, so a
 * client that opens and cancels streams in a loop (CVE-2023-44487, "rapid reset") is cut off.
 * Envoy's default for the same guard is 500; gRPC clients cancel a few streams, not hundreds.
 */
const MAX_PREMATURE_RESETS = 100;

const HEADERS_TOO_LARGE = rejection('headers_too_large', 'request headers are larger than limits.maxHeaderBytes');

function createProxyH2Server(pipeline: Pipeline, limits: ProxyLimits, onAbuse: AbuseListener): Http2Server {
  const server = createH2Server({
    maxSessionMemory: 10,
    // The header block is limited as the HTTP/1.1 head is (below), and its count of headers by that.
    maxHeaderListPairs: headerPairsWithin(limits.maxHeaderBytes),
    settings: { maxConcurrentStreams: limits.maxConcurrentStreams, maxHeaderListSize: limits.maxHeaderBytes },
  });
  // nghttp2 only advertises maxHeaderListSize; the limit itself is enforced here, per stream, as a 431.
  server.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => {
    if (headerBytes(req.rawHeaders) > limits.maxHeaderBytes) pipeline.handleRefusedStream(req, res, HEADERS_TOO_LARGE);
    else pipeline.handleRequest(req, res);
  });
  server.on('session', (session: Http2Session) => {
    // A peer's protocol error ends its own connection (GOAWAY is sent first); nothing else is touched.
    session.on('error', () => session.destroy());
    let open = 0;
    let streams = 0;
    let premature = 0;
    session.on('stream', (stream: ServerHttp2Stream) => {
      open++;
      streams++;
      stream.on('error', ignoreError);
      stream.once('close', () => {
        open--;
        if (stream.rstCode === h2constants.NGHTTP2_NO_ERROR || stream.headersSent) return;
        if (++premature > MAX_PREMATURE_RESETS && premature * 2 > streams && !session.destroyed) {
          onAbuse(pipeline.listener, 'premature_resets');
          session.goaway(h2constants.NGHTTP2_ENHANCE_YOUR_CALM);
          session.destroy();
        }
      });
    });
    session.setTimeout(H2_IDLE_MS, () => {
      if (open === 0) session.close();
    });
  });
  return server;
}

/** A header section's size as HTTP/1.1 counts it ("name: value" and CRLF), so both protocols get the same limit */
function headerBytes(raw: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) n += raw[i].length + raw[i + 1].length + 4;
  return n;
}

function ignoreError(): void {}

function createProxyServer(pipeline: Pipeline, maxHeaderBytes: number): Server {
  const server = createServer({ maxHeaderSize: maxHeaderBytes, requestTimeout: 0, keepAliveTimeout: 65_000 });
  server.headersTimeout = 70_000;
  // Node keeps only the first maxHeadersCount (2000) headers and drops the rest without a word;
  // maxHeaderSize (431 past it) is the one limit, so every header under it reaches the app.
  server.maxHeadersCount = 0;
  server.on('request', pipeline.handleRequest);
  server.on('checkContinue', pipeline.handleCheckContinue);
  server.on('upgrade', pipeline.handleUpgrade);
  server.on('connect', pipeline.handleConnect);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => rejectMalformed(pipeline, err, socket));
  return server;
}

/** Requests Node's parser refused get the JSON error body, and are logged and counted like any other. */
function rejectMalformed(pipeline: Pipeline, err: NodeJS.ErrnoException, socket: Socket): void {
  // A response already on this connection (pipelining) cannot be followed by another one.
  if (!socket.writable || err.code === 'ECONNRESET' || (socket as { _httpMessage?: unknown })._httpMessage) {
    socket.destroy();
    return;
  }
  const { req, answer } = refusedRequest(err, socket);
  pipeline.handleRefused(req, socket, answer);
}

export function listen(server: Server | NetServer, address: ListenAddress, key: string): Promise<ListenAddress> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const where = formatListen(address);
      const cannot = `cannot listen on ${where} (${key})`;
      if (err.code === 'EADDRINUSE') reject(new ListenError(`${cannot}: address already in use`));
      else if (err.code === 'EACCES') reject(new ListenError(`${cannot}: permission denied`));
      else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') reject(new ListenError(`${cannot}: ${address.host} is not an address of this host`));
      else reject(new ListenError(`${cannot}: ${err.message}`));
    };
    server.once('error', onError);
    server.listen(address.port, address.host, () => {
      server.off('error', onError);
      const bound = server.address();
      resolve(typeof bound === 'object' && bound ? { host: bound.address, port: bound.port } : address);
    });
  });
}
