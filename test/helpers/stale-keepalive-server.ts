// An HTTP/1.1 server that loses the keep-alive race every time: it answers the first request on
// a connection (keep-alive, no Connection: close), and when a second request arrives on that
// same connection it closes it without a byte of answer, as a server does whose idle timer
// fired just as the request came in. Plain TCP, or TLS with the fake API's certificates.
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { AddressInfo } from 'node:net';

export interface StaleKeepAliveServer {
  url: string;
  /** requests answered / requests dropped on a reused connection */
  answered: number;
  dropped: number;
  connections: number;
  close(): Promise<void>;
}

export async function startStaleKeepAliveServer(tls?: { key: string; cert: string }): Promise<StaleKeepAliveServer> {
  const state = { answered: 0, dropped: 0, connections: 0 };
  const sockets = new Set<Socket>();
  const onConnection = (socket: Socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let served = false;
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      if (served) {
        state.dropped++;
        socket.destroy();
        return;
      }
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      served = true;
      state.answered++;
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok');
    });
  };
  const server: Server = tls ? createTlsServer({ key: tls.key, cert: tls.cert }, onConnection) : createTcpServer(onConnection);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${tls ? 'https://localhost' : 'http://127.0.0.1'}:${port}`,
    get answered() {
      return state.answered;
    },
    get dropped() {
      return state.dropped;
    },
    get connections() {
      return state.connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
