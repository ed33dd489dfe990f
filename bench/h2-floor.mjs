// The HTTP/2 floor: the least a Node reverse proxy does to carry h2c and gRPC. node:http2 in
// (cleartext, prior knowledge); out, to an h2c:// UPSTREAM, a node:http2 client session, and to
// an http:// one an undici HTTP/1.1 Pool. Headers pass with the connection-specific ones dropped,
// request and response bodies are piped (backpressure both ways), the response's trailers are sent
// as trailers (gRPC's status rides there). No request id, no access log, no metrics, no spans, no
// deadlines: the telemetry and the gRPC handling are what bench/grpc.mjs prices against this.
// Not undici's h2 client by default: it dispatches a request with a stream body, or any POST,
// only when no other request is in flight on the connection, so gRPC calls do not share a
// connection. CLIENT=undici uses it anyway, as sidelight's app pool does (an undici h2c Pool, one
// call per connection at a time): the difference between the two is what undici's h2 client costs.
import { connect, constants, createServer } from 'node:http2';
import { PassThrough } from 'node:stream';
import { buildConnector, Pool } from 'undici';

const port = Number(process.env.PORT);
const h2c = process.env.UPSTREAM.startsWith('h2c://');
const origin = h2c ? `http://${process.env.UPSTREAM.slice(6)}` : process.env.UPSTREAM;
// RFC 9113 §8.2.2: connection-specific fields must not appear in HTTP/2; `te` passes only as "trailers".
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'http2-settings']);
const { NGHTTP2_CANCEL, NGHTTP2_FLAG_END_STREAM } = constants;

function withoutHop(headers, out = {}) {
  for (const name in headers) if (!HOP.has(name)) out[name] = headers[name];
  return out;
}

// SESSIONS > 1 spreads the calls over that many h2c connections, round robin.
const sessions = new Array(Number(process.env.SESSIONS ?? 1)).fill(null);
let next = 0;
function upstreamSession() {
  const i = next;
  next = (next + 1) % sessions.length;
  const session = sessions[i];
  if (session && !session.closed && !session.destroyed) return session;
  sessions[i] = connect(origin);
  sessions[i].on('error', () => {});
  return sessions[i];
}

function toH2c(stream, headers, flags) {
  const endStream = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
  const up = upstreamSession().request(withoutHop(headers), { endStream });
  let trailers = null;
  if (!endStream) stream.pipe(up);
  up.on('response', (h) => {
    if (!stream.destroyed) stream.respond(withoutHop(h), { waitForTrailers: true });
  });
  up.on('trailers', (t) => (trailers = t));
  stream.on('wantTrailers', () => (trailers ? stream.sendTrailers(trailers) : stream.close()));
  up.pipe(stream);
  up.on('error', () => {
    if (stream.destroyed) return;
    if (stream.headersSent) stream.close(NGHTTP2_CANCEL);
    else stream.respond({ ':status': 502 }, { endStream: true });
  });
  stream.on('close', () => up.destroyed || up.close(NGHTTP2_CANCEL));
  stream.on('error', () => {});
}

const viaUndici = !h2c || process.env.CLIENT === 'undici';
const pool = viaUndici
  ? new Pool(origin, { keepAliveTimeout: 4_000, headersTimeout: 0, bodyTimeout: 0, ...(h2c ? { allowH2: true, connect: buildConnector({ useH2c: true }), pipelining: 1 } : {}) })
  : null;

class UndiciHandler {
  constructor(stream) {
    this.stream = stream;
    this.trailers = null;
    if (h2c) stream.once('wantTrailers', () => (this.trailers ? stream.sendTrailers(this.trailers) : stream.close()));
  }
  onRequestStart() {}
  onResponseStart(controller, status, headers) {
    this.stream.respond(withoutHop(headers, { ':status': status }), { waitForTrailers: h2c });
  }
  onResponseData(controller, chunk) {
    if (!this.stream.write(chunk)) {
      controller.pause();
      this.stream.once('drain', () => controller.resume());
    }
  }
  onResponseEnd(controller) {
    // undici's h2 client completes with Node's trailers object, which the handler API's adapter
    // reads as an empty list: the object is on controller.rawTrailers.
    const raw = controller.rawTrailers;
    if (raw && !Array.isArray(raw) && Object.keys(raw).length) this.trailers = raw;
    this.stream.end();
  }
  onResponseError() {
    if (this.stream.destroyed) return;
    if (this.stream.headersSent) this.stream.close(NGHTTP2_CANCEL);
    else this.stream.respond({ ':status': 502 }, { endStream: true });
  }
}

function viaPool(stream, headers, flags) {
  const out = [];
  for (const name in headers) {
    if (name[0] === ':' || (name === 'te' && !h2c) || HOP.has(name)) continue;
    const value = headers[name];
    if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else out.push(name, value);
  }
  out.push('host', headers[':authority'] ?? '');
  // undici pipes a stream body with pipeline(), which destroys a Duplex that has not closed when
  // the upload ends: the server stream would be reset before its response. A PassThrough takes that.
  const body = flags & NGHTTP2_FLAG_END_STREAM ? null : stream.pipe(new PassThrough());
  stream.on('error', () => {});
  pool.dispatch({ path: headers[':path'], method: headers[':method'], headers: out, body }, new UndiciHandler(stream));
}

createServer()
  .on('stream', viaUndici ? viaPool : toH2c)
  .listen(port, '127.0.0.1', () => console.log(`h2 floor on ${port}`));

// Exit cleanly on SIGTERM so `node --cpu-prof` (bench/grpc.mjs --profile h2-floor) writes its profile.
process.on('SIGTERM', () => process.exit(0));
