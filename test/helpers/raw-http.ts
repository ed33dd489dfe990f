// Sends a request exactly as written (odd request lines, absolute-form, CONNECT) over a plain
// socket and returns what came back: the status (0 when the connection closed without one).
import { connect, type Socket } from 'node:net';

export interface RawAnswer {
  status: number;
  head: string;
  body: string;
}

export function rawRequest(baseUrl: string, text: string, timeoutMs = 5_000): Promise<RawAnswer> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms to ${JSON.stringify(text.split('\r\n')[0])}`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (data += d));
    const done = () => {
      clearTimeout(timer);
      const split = data.indexOf('\r\n\r\n');
      const head = split === -1 ? data : data.slice(0, split);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ status, head, body: split === -1 ? '' : data.slice(split + 4) });
    };
    socket.on('end', done);
    socket.on('close', done);
    socket.on('error', () => {});
    socket.write(text);
  });
}

/** A client connection driven by hand: write when you like, read what came back and how the connection ended. */
export interface RawConnection {
  write(data: string | Buffer): boolean;
  /** everything received so far, latin1 */
  received(): string;
  /** resolves once what was received matches */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** how the connection ended: "end" (the server closed it cleanly), "reset" or "closed" */
  ended: Promise<'end' | 'reset' | 'closed'>;
  /**
   * Sends `bytes` bytes of body ("x"…), as chunked chunks when `chunked`, as fast as the other
   * side reads them; resolves with the bytes written when done or when the connection ends.
   */
  pump(bytes: number, chunked: boolean): Promise<number>;
  destroy(): void;
}

export function openConnection(baseUrl: string): Promise<RawConnection> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let data = '';
    const waiters: Array<() => void> = [];
    let how: 'end' | 'reset' | 'closed' = 'closed';
    const ended = new Promise<'end' | 'reset' | 'closed'>((done) => socket.once('close', () => done(how)));
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      data += d;
      for (const w of [...waiters]) w();
    });
    socket.once('end', () => (how = 'end'));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (how === 'closed') how = err.code === 'ECONNRESET' || err.code === 'EPIPE' ? 'reset' : 'closed';
    });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve({
        write: (chunk) => socket.write(chunk),
        received: () => data,
        waitFor(pattern, timeoutMs = 10_000) {
          return new Promise((ok, fail) => {
            const check = () => {
              const match = pattern.exec(data);
              if (!match) return;
              waiters.splice(waiters.indexOf(check), 1);
              clearTimeout(timer);
              ok(match[0]);
            };
            const timer = setTimeout(() => {
              waiters.splice(waiters.indexOf(check), 1);
              fail(new Error(`no ${pattern} within ${timeoutMs} ms; received: ${JSON.stringify(data.slice(0, 500))}`));
            }, timeoutMs);
            waiters.push(check);
            check();
          });
        },
        ended,
        pump: (bytes, chunked) => pump(socket, bytes, chunked),
        destroy: () => socket.destroy(),
      });
    });
  });
}

const BLOCK = Buffer.alloc(64 * 1024, 0x78);
const CHUNK_HEAD = Buffer.from(`${BLOCK.length.toString(16)}\r\n`);
const CRLF = Buffer.from('\r\n');

function pump(socket: Socket, bytes: number, chunked: boolean): Promise<number> {
  return new Promise((resolve) => {
    let written = 0;
    const stop = () => resolve(written);
    socket.once('close', stop);
    const more = () => {
      while (written < bytes && !socket.destroyed && socket.writable) {
        const n = Math.min(BLOCK.length, bytes - written);
        const block = n === BLOCK.length ? BLOCK : BLOCK.subarray(0, n);
        const ok = chunked ? socket.write(Buffer.concat([n === BLOCK.length ? CHUNK_HEAD : Buffer.from(`${n.toString(16)}\r\n`), block, CRLF])) : socket.write(block);
        written += n;
        if (!ok) return void socket.once('drain', more);
      }
      if (written >= bytes && chunked && socket.writable) socket.write('0\r\n\r\n');
      socket.off('close', stop);
      resolve(written);
    };
    more();
  });
}
