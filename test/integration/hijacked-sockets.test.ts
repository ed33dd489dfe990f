// Node hands the socket of an Upgrade or CONNECT request over without an 'error' listener of its
// own: a client that resets its connection right after sending one must cost sidelight that
// connection, never the process (the ingress port is open to the network).
import { connect, createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { startSidelight, type RunningSidelight } from '../helpers/sidelight.js';

/** a port nothing listens on: the app "refuses", so sidelight answers at once */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** sends `head` on `count` connections and resets each one right away */
async function sendAndReset(baseUrl: string, head: string, count: number): Promise<void> {
  const { hostname, port } = new URL(baseUrl);
  await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<void>((resolve) => {
          const socket = connect(Number(port), hostname, () => {
            socket.write(head);
            socket.resetAndDestroy();
          });
          socket.on('error', () => {});
          socket.on('close', () => resolve());
        }),
    ),
  );
}

describe('a client that resets right after Upgrade or CONNECT', () => {
  let sl: RunningSidelight;
  beforeAll(async () => {
    const app = `http://127.0.0.1:${await closedPort()}`;
    // No upstream configured: the CONNECT is refused at once, the quickest way into a write to a reset socket.
    sl = await startSidelight({ args: ['--app', app] });
  });
  afterAll(async () => {
    await sl?.stop();
  });

  it('costs that connection, not the process', async () => {
    for (let round = 0; round < 5; round++) {
      await sendAndReset(sl.ingress, 'GET /ws HTTP/1.1\r\nHost: app\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n', 40);
      await sendAndReset(sl.egress, 'CONNECT api.stripe.com:443 HTTP/1.1\r\nHost: api.stripe.com:443\r\n\r\n', 40);
    }
    expect((await send(`${sl.admin}/live`)).status).toBe(200);
    expect(sl.proc.exitCode).toBeNull();
    expect(sl.stderr()).not.toMatch(/Unhandled 'error' event/);
  });
});
