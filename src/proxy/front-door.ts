// One port, two protocols: a connection whose first bytes are HTTP/2's preface goes to the h2
// server, any other to the HTTP/1.1 one. Prior knowledge (RFC 9113 §3.3) is how h2c clients
// connect (curl --http2-prior-knowledge, gRPC); RFC 9113 dropped the `Upgrade: h2c` handshake.
// The choice costs one read per connection, not per request.
import type { Server as HttpServer } from 'node:http';
import type { Http2Server, Http2Session } from 'node:http2';
import { createServer, type Server, type Socket } from 'node:net';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** What the lifecycle does to a listener: refuse, close idle connections, close all. */
export interface Closable {
  close(): void;
  closeIdleConnections(): void;
  closeAllConnections(): void;
}

export class FrontDoor implements Closable {
  readonly server: Server;
  private readonly sessions = new Set<Http2Session>();

  constructor(
    private readonly h1: HttpServer,
    private readonly h2: Http2Server,
  ) {
    this.server = createServer({ noDelay: true }, (socket) => this.sniff(socket));
    // node:http tracks its connections (headersTimeout, closeIdleConnections) from its own
    // 'listening' event; it never listens itself here, so it hears the door's.
    this.server.once('listening', () => h1.emit('listening'));
    h2.on('session', (session: Http2Session) => {
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
    });
  }

  private sniff(socket: Socket): void {
    const onReadable = (): void => {
      const chunk = socket.read() as Buffer | null;
      if (chunk === null) return;
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      socket.unshift(chunk);
      // A chunk shorter than the preface is judged on what it has: no HTTP/1.1 method starts "PRI *".
      const n = Math.min(chunk.length, PREFACE.length);
      const h2 = chunk.compare(PREFACE, 0, n, 0, n) === 0;
      (h2 ? this.h2 : this.h1).emit('connection', socket);
    };
    const onEnd = (): void => void socket.destroy();
    socket.on('error', ignore);
    socket.on('readable', onReadable);
    socket.once('end', onEnd);
  }

  close(): void {
    this.server.close();
    this.h1.close();
    this.h2.close();
  }

  /** HTTP/1.1 keep-alive connections with nothing in flight close; HTTP/2 ones get GOAWAY (streams in flight finish) */
  closeIdleConnections(): void {
    this.h1.closeIdleConnections();
    for (const s of this.sessions) s.close();
  }

  closeAllConnections(): void {
    this.h1.closeAllConnections();
    for (const s of this.sessions) s.destroy();
  }
}

function ignore(): void {}
