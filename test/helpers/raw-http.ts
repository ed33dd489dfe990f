// Sends a request exactly as written (odd request lines, absolute-form, CONNECT) over a plain
// socket and returns what came back: the status (0 when the connection closed without one).
import { connect } from 'node:net';

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
