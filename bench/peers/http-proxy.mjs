// http-proxy (or its maintained rewrite http-proxy-3, PEER=http-proxy-3) with a keep-alive agent.
import { createServer, Agent } from 'node:http';

const mod = process.env.PEER === 'http-proxy-3' ? await import('http-proxy-3') : await import('http-proxy');
const createProxyServer = mod.createProxyServer ?? mod.default.createProxyServer;
const proxy = createProxyServer({ target: process.env.UPSTREAM, agent: new Agent({ keepAlive: true, maxSockets: 256 }), xfwd: true });
proxy.on('error', (_err, _req, res) => {
  if (res.writeHead && !res.headersSent) res.writeHead(502);
  res.end?.();
});
createServer((req, res) => proxy.web(req, res)).listen(Number(process.env.PORT), '127.0.0.1');
