// The bench's fixed parts: the upstream every contender proxies to, and an OTLP sink that
// takes spans and throws them away. Shared by run.mjs (CPU time) and instructions.mjs.
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nginxConf } from './contenders.mjs';
import { freePort, has, startProcess, waitFor200 } from './lib.mjs';

/** nginx answering a 30-byte body (node:http when nginx is not installed); `tmp` holds its config. */
export async function startUpstream(tmp) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  if (has('/usr/sbin/nginx')) {
    const conf = join(tmp, 'nginx-upstream.conf');
    writeFileSync(conf, nginxConf(tmp, 'upstream', port, `location / { default_type text/plain; return 200 "hello from the bench upstream\\n"; }`));
    const proc = startProcess({ cmd: '/usr/sbin/nginx', args: ['-c', conf, '-p', tmp] });
    await waitFor200(url, proc);
    return { url, kind: 'nginx', stop: () => proc.stop() };
  }
  const body = 'hello from the bench upstream\n';
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
    res.end(body);
  });
  server.keepAliveTimeout = 65_000;
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return { url, kind: 'node:http', stop: () => new Promise((r) => server.close(r)) };
}

export async function startSink() {
  const port = await freePort();
  const proc = startProcess({ cmd: process.execPath, args: [fileURLToPath(new URL('./peers/otlp-sink.mjs', import.meta.url))], env: { PORT: String(port) } });
  const url = `http://127.0.0.1:${port}`;
  await waitFor200(`${url}/v1/traces`, proc);
  return { url, stop: () => proc.stop() };
}
