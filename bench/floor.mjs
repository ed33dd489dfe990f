// The floor: the least a correct Node reverse proxy on undici does per request. node:http in,
// Pool.dispatch out with the new handler API, bodies streamed with backpressure, hop-by-hop
// headers dropped, the client's Host kept and X-Forwarded-For/-Proto/-Host set (what sidelight's
// core does too); no request id, no access log, no metrics, no spans: the telemetry is what the
// bench prices.
import { createServer } from 'node:http';
import { Pool } from 'undici';

const port = Number(process.env.PORT);
const upstream = process.env.UPSTREAM;
const pool = new Pool(upstream, { keepAliveTimeout: 4_000, headersTimeout: 0, bodyTimeout: 0 });
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host']);

class Handler {
  constructor(res) {
    this.res = res;
  }
  onRequestStart() {}
  onResponseStart(controller, status, headers) {
    for (const name of HOP) delete headers[name];
    this.res.writeHead(status, headers);
  }
  onResponseData(controller, chunk) {
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', () => controller.resume());
    }
  }
  onResponseEnd() {
    this.res.end();
  }
  onResponseError(_controller, err) {
    if (this.res.headersSent) this.res.destroy(err);
    else {
      this.res.writeHead(502);
      this.res.end();
    }
  }
}

createServer((req, res) => {
  const raw = req.rawHeaders;
  const headers = [];
  let host = '';
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (name === 'host') host = raw[i + 1];
    else if (!HOP.has(name)) headers.push(name, raw[i + 1]);
  }
  headers.push('host', host, 'x-forwarded-for', req.socket.remoteAddress ?? '', 'x-forwarded-proto', 'http', 'x-forwarded-host', host);
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  pool.dispatch({ path: req.url, method: req.method, headers, body: hasBody ? req : null }, new Handler(res));
}).listen(port, '127.0.0.1', () => console.log(`floor on ${port}`));

// Exit cleanly on SIGTERM so `node --cpu-prof` (bench --profile floor) writes its profile.
process.on('SIGTERM', () => process.exit(0));
