// HTTP/2 load and checks for bench/grpc.mjs: h2load (nghttp2-client) as the load generator — C,
// so it takes little of the core it shares with the app — and one node:http2 request to check
// what a row answers before it is loaded.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:http2';

export const H2LOAD = '/usr/bin/h2load';
export const ECHO_SAY = '/sidelight.test.v1.Echo/Say';
export const GRPC_HEADERS = { 'content-type': 'application/grpc', te: 'trailers' };
const MESSAGE = 'hello from the bench client';

/** A gRPC length-prefixed message: EchoRequest { message = MESSAGE } (field 1, wire type 2). */
export function echoRequestFrame() {
  const text = Buffer.from(MESSAGE);
  const msg = Buffer.concat([Buffer.from([0x0a, text.length]), text]);
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(msg.length, 1);
  return Buffer.concat([prefix, msg]);
}

/** Writes the request body h2load sends with each call; returns its path. */
export function writeEchoBody(dir) {
  const file = `${dir}/echo-say.bin`;
  writeFileSync(file, echoRequestFrame());
  return file;
}

/**
 * `connections` h2c connections with up to `streams` requests in flight on each for `seconds`
 * (with `rate`, that many calls per second in all, spread over the connections): a POST of
 * `bodyFile` with `headers` when given, else a GET. h2load counts HTTP statuses; a gRPC status
 * rides in the trailers, which it does not read (the caller counts those from the app's side).
 */
export function h2load(url, { seconds, connections, streams, rate, bodyFile, headers = {} }) {
  const args = ['-t1', `-c${connections}`, `-m${streams}`, `-D${seconds}`];
  if (rate) args.push(`--rps=${Math.max(1, Math.round(rate / connections))}`);
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  if (bodyFile) args.push('-d', bodyFile);
  const out = execFileSync(H2LOAD, [...args, url], { encoding: 'utf8' });
  const m = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  if (!m) throw new Error(`h2load printed no totals:\n${out}`);
  const statuses = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  const succeeded = Number(m[4]);
  return {
    calls: succeeded,
    rps: succeeded / seconds,
    errors: Number(m[5]) + Number(m[6]) + Number(m[7]) + (statuses ? Number(statuses[2]) + Number(statuses[3]) + Number(statuses[4]) : 0),
  };
}

/** One request over a fresh h2c connection: the HTTP status, the grpc-status (trailers or headers) and the body. */
export function h2Request(url, { path = '/', headers = {}, body } = {}) {
  return new Promise((resolve) => {
    const session = connect(url);
    const done = (r) => {
      session.close();
      resolve(r);
    };
    session.on('error', (err) => done({ status: 0, error: err.message }));
    const req = session.request({ ':method': body ? 'POST' : 'GET', ':path': path, ...headers }, { endStream: !body });
    let status = 0;
    let grpcStatus;
    const chunks = [];
    req.on('response', (h) => {
      status = h[':status'];
      grpcStatus = h['grpc-status'];
    });
    req.on('trailers', (t) => (grpcStatus = t['grpc-status'] ?? grpcStatus));
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => done({ status, grpcStatus, body: Buffer.concat(chunks) }));
    req.on('error', (err) => done({ status: 0, error: err.message }));
    req.setTimeout(2000, () => req.close());
    if (body) req.end(body);
  });
}

/** Whether `url` answers a unary Echo/Say with grpc-status 0 and the message echoed. */
export async function echoes(url) {
  const r = await h2Request(url, { path: ECHO_SAY, headers: GRPC_HEADERS, body: echoRequestFrame() });
  return r.status === 200 && r.grpcStatus === '0' && r.body.includes(MESSAGE) ? '' : `answered ${JSON.stringify({ status: r.status, grpcStatus: r.grpcStatus, error: r.error, body: r.body?.toString('latin1') })}`;
}

/** Whether `url` answers an h2 GET with 200. */
export async function answersGet(url) {
  const r = await h2Request(url);
  return r.status === 200 ? '' : `answered ${JSON.stringify({ status: r.status, error: r.error })}`;
}
