// The demo's app and the fake payments API it calls through sidelight's egress listener.
// Plain node:http, no observability code at all: that is sidelight's job.
import { createServer, request } from 'node:http';

const APP_PORT = Number(process.env.DEMO_APP_PORT ?? 18080);
const PAYMENTS_PORT = Number(process.env.DEMO_PAYMENTS_PORT ?? 18081);
const EGRESS = process.env.DEMO_EGRESS ?? 'http://127.0.0.1:15081';

function json(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The app calls Stripe-like APIs through egress, forwarding the request id it was given. */
function charge(requestId) {
  return new Promise((resolve, reject) => {
    const req = request(`${EGRESS}/payments/v1/charges`, { method: 'POST', headers: { 'x-request-id': requestId, 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, body: text ? JSON.parse(text) : null }));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ amount: 1999, currency: 'eur' }));
  });
}

const app = createServer((req, res) => {
  const { pathname } = new URL(req.url ?? '/', 'http://demo');
  req.resume();
  if (pathname === '/healthz') return json(res, 200, { ok: true });
  if (pathname === '/api/cart') return json(res, 200, { items: [{ id: 42, qty: 1 }] });
  const item = /^\/api\/items\/(\d+)$/.exec(pathname);
  if (item) return json(res, Number(item[1]) > 1000 ? 404 : 200, { id: Number(item[1]), name: `item ${item[1]}` });
  if (pathname === '/api/checkout') {
    charge(String(req.headers['x-request-id'] ?? ''))
      .then((payment) => json(res, payment.status === 200 ? 200 : 502, { payment }))
      .catch((err) => json(res, 502, { error: err.message }));
    return;
  }
  json(res, 404, { error: 'not found' });
});

const payments = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (req.url === '/v1/charges' && req.method === 'POST') return json(res, 200, { id: `ch_${Date.now()}`, status: 'succeeded', requestId: req.headers['x-request-id'] });
    json(res, 404, { error: { message: 'Unrecognized request URL' } });
  });
});

app.listen(APP_PORT, '127.0.0.1');
payments.listen(PAYMENTS_PORT, '127.0.0.1');
await Promise.all([app, payments].map((s) => new Promise((r) => s.once('listening', r))));
console.log(`demo app on http://127.0.0.1:${APP_PORT}, fake payments API on http://127.0.0.1:${PAYMENTS_PORT}`);

const stop = () => {
  app.close();
  payments.close();
  app.closeAllConnections();
  payments.closeAllConnections();
};
process.on('SIGTERM', stop).on('SIGINT', stop);
