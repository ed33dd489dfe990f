// An upstream that answers with something other than HTTP (here an SSH banner, as from the wrong
// port): the client gets 502 upstream_protocol_error with the parser's reason, and the log a
// warning naming the upstream and that reason, on ingress (the app) and egress alike.
import { createServer, type Server } from 'node:net';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { startSidelight, type RunningSidelight } from '../helpers/sidelight.js';

const servers: Server[] = [];
let sl: RunningSidelight;

/** A server that answers any request with an SSH banner; its URL. */
async function notHttp(): Promise<string> {
  const server = createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => socket.end('SSH-2.0-OpenSSH_9.6\r\n'));
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

beforeAll(async () => {
  const [app, ssh] = [await notHttp(), await notHttp()];
  sl = await startSidelight({
    config: { ingress: { app }, egress: { upstreams: { ssh: { url: ssh, retry: { attempts: 0 }, breaker: { enabled: false } } } } },
  });
});
afterAll(async () => {
  await sl?.stop();
  for (const s of servers) s.close();
});

describe("an upstream's answer that is not HTTP", () => {
  it.each([
    { listener: 'ingress', path: '/hello', upstream: 'app' },
    { listener: 'egress', path: '/ssh/hello', upstream: 'ssh' },
  ])('$listener: 502 upstream_protocol_error with the reason, and a warning naming $upstream', async ({ listener, path, upstream }) => {
    const requestId = `not-http-${listener}`;
    const res = await send(`${sl.url[listener]}${path}`, { headers: { 'x-request-id': requestId } });
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body)).toMatchObject({
      error: 'upstream_protocol_error',
      message: "the upstream's answer is not valid HTTP: Expected HTTP/, RTSP/ or ICE/",
      requestId,
      upstream,
    });
    const warning = await sl.waitForLog((l) => l.level === 'warn' && l.upstream === upstream && l.msg === "upstream's answer is not HTTP");
    expect(warning).toMatchObject({ origin: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), reason: 'Expected HTTP/, RTSP/ or ICE/', requestId });
    const line = await sl.waitForLog((l) => l.msg === 'request' && l.requestId === requestId);
    expect(line).toMatchObject({ status: 502, error: 'upstream_protocol_error' });
  });
});

it('a broken app does not flood the log: one warning per upstream in 10 s, however many requests fail', async () => {
  for (let i = 0; i < 3; i++) expect((await send(`${sl.ingress}/again`, { headers: { 'x-request-id': `again-${i}` } })).status).toBe(502);
  // The warning goes out when the request fails, before its access log line.
  await sl.waitForLog((l) => l.msg === 'request' && l.requestId === 'again-2');
  expect(sl.logs.filter((l) => l.msg === "upstream's answer is not HTTP" && l.upstream === 'app')).toHaveLength(1);
});
