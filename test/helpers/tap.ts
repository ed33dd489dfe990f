// A GET /tap client for tests: a real streaming HTTP request whose records are collected as
// they arrive, with a wait for the record a test expects.
import { request, type IncomingMessage } from 'node:http';

export type TapLine = Record<string, unknown> & { kind: string };

export interface TapStream {
  status: number;
  headers: IncomingMessage['headers'];
  lines: TapLine[];
  /** the raw text received so far */
  text(): string;
  waitFor(predicate: (line: TapLine) => boolean, timeoutMs?: number, what?: string): Promise<TapLine>;
  /** stop reading (the socket's buffers fill, as with a slow terminal) / read again */
  pause(): void;
  resume(): void;
  close(): void;
}

export function openTap(admin: string, query = '', headers: Record<string, string> = {}): Promise<TapStream> {
  return new Promise((resolve, reject) => {
    const req = request(`${admin}/tap${query}`, { headers, agent: false }, (res) => {
      const lines: TapLine[] = [];
      let raw = '';
      let buffered = '';
      const waiters: Array<{ predicate: (l: TapLine) => boolean; resolve: (l: TapLine) => void }> = [];
      const sse = String(res.headers['content-type']).startsWith('text/event-stream');
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        raw += chunk;
        if (res.statusCode !== 200) return; // an error body, not a stream
        buffered += chunk;
        const separator = sse ? '\n\n' : '\n';
        let at: number;
        while ((at = buffered.indexOf(separator)) !== -1) {
          let frame = buffered.slice(0, at);
          buffered = buffered.slice(at + separator.length);
          if (sse) {
            const data = frame.split('\n').find((l) => l.startsWith('data: '));
            if (!data) continue;
            frame = data.slice(6);
          }
          if (!frame) continue;
          const line = JSON.parse(frame) as TapLine;
          lines.push(line);
          for (const w of [...waiters]) {
            if (w.predicate(line)) {
              waiters.splice(waiters.indexOf(w), 1);
              w.resolve(line);
            }
          }
        }
      });
      res.on('error', () => {});
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        lines,
        text: () => raw,
        waitFor(predicate, timeoutMs = 10_000, what = 'a matching tap line') {
          const found = lines.find(predicate);
          if (found) return Promise.resolve(found);
          return new Promise((ok, fail) => {
            const timer = setTimeout(() => fail(new Error(`no ${what} within ${timeoutMs} ms; got ${JSON.stringify(lines.slice(-3))}`)), timeoutMs);
            waiters.push({ predicate, resolve: (l) => (clearTimeout(timer), ok(l)) });
          });
        },
        pause: () => res.pause(),
        resume: () => res.resume(),
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}
