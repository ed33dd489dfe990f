// An app on a plain socket, for what node:http would do for the app itself: informational
// answers, refusing an upload without reading it, trickled bodies. One request per connection:
// each handler answers with `Connection: close` and ends the socket.
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll } from 'vitest';
import { startSidelight, type RunningSidelight } from './sidelight.js';

export interface RawRequest {
  method: string;
  path: string;
  /** lower-case names */
  headers: Record<string, string>;
}

/** `rest`: what came after the request head in the same reads (the start of the body) */
export type RawHandler = (socket: Socket, req: RawRequest, rest: Buffer) => void;

export interface RawApp {
  url: string;
  /** request heads seen, in order */
  received: RawRequest[];
  close(): Promise<void>;
}

export async function startRawApp(handlers: Record<string, RawHandler>): Promise<RawApp> {
  const received: RawRequest[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = Buffer.alloc(0);
    const onData = (data: Buffer) => {
      buffered = Buffer.concat([buffered, data]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      const [line, ...fields] = buffered.subarray(0, end).toString('latin1').split('\r\n');
      const [method, path] = line.split(' ');
      const headers: Record<string, string> = {};
      for (const f of fields) {
        const colon = f.indexOf(':');
        headers[f.slice(0, colon).trim().toLowerCase()] = f.slice(colon + 1).trim();
      }
      const req = { method, path, headers };
      received.push(req);
      const handler = handlers[path.split('?')[0]];
      if (handler) handler(socket, req, buffered.subarray(end + 4));
      else socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Writes `chunks` one after another, `gapMs` apart, then calls `done`. */
export function trickle(write: (chunk: string) => void, chunks: string[], gapMs: number, done: () => void): void {
  let i = 0;
  const next = () => {
    if (i === chunks.length) return done();
    write(chunks[i++]);
    setTimeout(next, gapMs);
  };
  next();
}

/** Reads a request body to its end (by Content-Length, or to the last chunk), then calls `done` with its size. */
export function readBody(socket: Socket, req: RawRequest, rest: Buffer, done: (bytes: number) => void): void {
  const length = req.headers['content-length'];
  let seen = Buffer.from(rest);
  const check = () => {
    if (length !== undefined ? seen.length >= Number(length) : seen.includes('0\r\n\r\n')) {
      socket.off('data', onData);
      done(length !== undefined ? Number(length) : seen.length);
    }
  };
  const onData = (d: Buffer) => {
    seen = Buffer.concat([seen, d]);
    check();
  };
  socket.on('data', onData);
  check();
}

/**
 * A raw app and a sidelight in front of it for the tests of one describe block; `config` gets
 * the app's URL. The fields are set once the block's beforeAll has run.
 */
export function rawAppBehindSidelight(handlers: Record<string, RawHandler>, config: (appUrl: string) => Record<string, unknown>): { app: RawApp; sl: RunningSidelight } {
  const ctx = {} as { app: RawApp; sl: RunningSidelight };
  beforeAll(async () => {
    ctx.app = await startRawApp(handlers);
    ctx.sl = await startSidelight({ config: config(ctx.app.url) });
  });
  afterAll(async () => {
    await ctx.sl?.stop();
    await ctx.app?.close();
  });
  return ctx;
}
