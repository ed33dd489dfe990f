// A CONNECT client for tests, by hand: the request as written, the proxy's answer, and (after a
// 200) the socket that is the tunnel, with TLS over it when the test wants to speak to the API.
// Also TCP servers to tunnel to: a counting echo/sink, and a listener that never accepts.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

export interface ConnectAnswer {
  status: number;
  head: string;
  /** the JSON error body of a refusal; "" after a 200 */
  body: string;
  /** the tunnel after a 200 (bytes that came right after the head are put back); closed otherwise */
  socket: Socket;
}

/** Sends `CONNECT authority` to the proxy and resolves with its answer. */
export function connectThrough(proxyUrl: string, authority: string, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<ConnectAnswer> {
  const { hostname, port } = new URL(proxyUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let data = Buffer.alloc(0);
    let head = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to CONNECT ${authority} within ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = (status: number, body: string) => {
      clearTimeout(timer);
      socket.off('data', onData);
      resolve({ status, head, body, socket });
    };
    const onData = (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      if (head) return;
      const end = data.indexOf('\r\n\r\n');
      if (end === -1) return;
      head = data.subarray(0, end).toString('latin1');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      if (status === 200) {
        const rest = data.subarray(end + 4);
        if (rest.length) socket.unshift(rest);
        finish(status, '');
      }
    };
    socket.on('data', onData);
    socket.on('error', () => {});
    socket.on('close', () => {
      const end = data.indexOf('\r\n\r\n');
      if (!head) head = data.toString('latin1');
      finish(Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0), end === -1 ? '' : data.subarray(end + 4).toString('utf8'));
    });
    let text = `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n`;
    for (const [name, value] of Object.entries(headers)) text += `${name}: ${value}\r\n`;
    socket.write(`${text}\r\n`);
  });
}

/** TLS through an open tunnel, verifying the server as `servername` against `ca`. */
export function tlsOver(socket: Socket, servername: string, ca: string | Buffer): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({ socket, servername, ca });
    tls.once('secureConnect', () => resolve(tls));
    tls.once('error', reject);
  });
}

/** One HTTP/1.1 request over an established (TLS) connection; resolves with the whole answer once the server closes. */
export function requestOver(socket: Socket | TLSSocket, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (text += d));
    socket.once('end', () => resolve(text));
    socket.once('error', reject);
    socket.write(head);
  });
}

export interface TcpServer {
  port: number;
  /** connections accepted so far */
  connections(): number;
  /** bytes received on all connections */
  received(): number;
  sockets: Set<Socket>;
  close(): Promise<void>;
}

/** A plain TCP server: `echo` sends back what it gets, otherwise it only counts (a sink). */
export async function startTcpServer(mode: 'echo' | 'sink', port = 0): Promise<TcpServer> {
  let connections = 0;
  let received = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: false }, (socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (mode === 'echo') socket.pipe(socket);
    socket.on('data', (d: Buffer) => (received += d.length));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    received: () => received,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on (connections are refused), free for the test to listen on later. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface Blackhole {
  port: number;
  close(): void;
}

/**
 * A listener whose accept queue is full and never drained (a process with a blocked event loop
 * and a backlog of 1): a new connection to it gets no answer at all, as from a dead host.
 */
export async function startBlackhole(): Promise<Blackhole> {
  const script = `
    const s = require('node:net').createServer().listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
      process.stdout.write(s.address().port + '\\n'); // synchronous on a pipe
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
    });`;
  const child: ChildProcess = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
  // Fill the queue: connections complete until it is full; the first that hangs proves it is.
  const fillers: Socket[] = [];
  for (let i = 0; i < 16; i++) {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    fillers.push(socket);
    const connected = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 300);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (!connected) break;
  }
  return {
    port,
    close() {
      for (const s of fillers) s.destroy();
      child.kill('SIGKILL');
    },
  };
}
