// An answer that comes before the upload ends (issue 23): the client gets the answer and its
// connection ends, instead of sending into a socket nobody reads until its own timeout. The
// client here gives the end one second after the answer, as the issue asks.
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { send, until } from '../helpers/http.js';
import { rawAppBehindSidelight, type RawRequest } from '../helpers/raw-app.js';
import { openConnection, type RawConnection } from '../helpers/raw-http.js';
import type { LogLine, RunningSidelight } from '../helpers/sidelight.js';

const MiB = 1024 * 1024;

/** 413 at once without reading the body, then the socket closes, as servers refusing an upload do */
function refuseUpload(socket: Socket): void {
  const body = '{"error":"too large"}';
  socket.end(`HTTP/1.1 413 Content Too Large\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
}

/** takes the request and never reads or answers it */
function ignore(socket: Socket, _req: RawRequest): void {
  socket.pause();
}

/** Starts an upload of `bytes`, keeps sending, and resolves once the answer's head has come. */
async function upload(url: string, path: string, bytes: number, chunked: boolean): Promise<{ conn: RawConnection; head: string; sent: Promise<number> }> {
  const conn = await openConnection(url);
  const framing = chunked ? 'transfer-encoding: chunked' : `content-length: ${bytes}`;
  conn.write(`POST ${path} HTTP/1.1\r\nhost: api.example\r\ncontent-type: application/octet-stream\r\n${framing}\r\n\r\n`);
  const sent = conn.pump(bytes, chunked);
  const head = await conn.waitFor(/^HTTP\/1\.1 [2-5]\d\d [^\r]*\r\n(?:[^\r]+\r\n)*\r\n/);
  return { conn, head, sent };
}

/** The connection ends within a second of the answer (a client left hanging would wait for its own timeout). */
async function endsSoon(conn: RawConnection): Promise<string> {
  const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('still open 1 s after the answer'), 1_000).unref());
  const how = await Promise.race([conn.ended, timeout]);
  conn.destroy();
  return how;
}

const byPath = (sl: RunningSidelight, path: string) => sl.waitForLog((l: LogLine) => l.msg === 'request' && l.path === path);

describe('the app refuses an upload before it ends', () => {
  const ctx = rawAppBehindSidelight({ '/reject-upload': refuseUpload }, (app) => ({ ingress: { app } }));

  it('the client gets the 413 and its connection ends; the log records the bytes received and the cut body', async () => {
    const { conn, head } = await upload(ctx.sl.ingress, '/reject-upload', 64 * MiB, false);
    expect(head).toMatch(/^HTTP\/1\.1 413 /);
    expect(head.toLowerCase()).toContain('connection: close');
    await conn.waitFor(/\{"error":"too large"\}/);
    expect(await endsSoon(conn)).toBe('end');
    const line = await byPath(ctx.sl, '/reject-upload');
    expect(line).toMatchObject({ status: 413, requestIncomplete: true });
    expect(line.bytesIn).toBeLessThan(64 * MiB);
  });
});

describe('the app refuses a small upload before it ends', () => {
  const ctx = rawAppBehindSidelight({ '/reject-upload': refuseUpload }, (app) => ({ ingress: { app } }));

  it('the rest of the body (at most 1 MiB) is read and dropped, and the connection serves the next request', async () => {
    const { conn, head, sent } = await upload(ctx.sl.ingress, '/reject-upload', 256 * 1024, false);
    expect(head).toMatch(/^HTTP\/1\.1 413 /);
    expect(head.toLowerCase()).not.toContain('connection: close');
    expect(await sent).toBe(256 * 1024);
    conn.write('GET /reject-upload HTTP/1.1\r\nhost: api.example\r\n\r\n');
    await conn.waitFor(/413 Content Too Large[\s\S]*413 Content Too Large/);
    conn.destroy();
  });
});

describe("sidelight's own answer during an upload", () => {
  const ctx = rawAppBehindSidelight({ '/ignore': ignore, '/hold': ignore }, (app) => ({ ingress: { app }, limits: { maxInflight: 1 }, drain: { timeout: '100ms' } }));

  it('503 overloaded to a 256 MiB chunked upload: the client gets it and the connection ends', async () => {
    const held = send(`${ctx.sl.ingress}/hold`).catch(() => undefined);
    await until(() => ctx.app.received.some((r) => r.path === '/hold'), 10_000, '/hold to reach the app');
    const { conn, head } = await upload(ctx.sl.ingress, '/ignore', 256 * MiB, true);
    expect(head).toMatch(/^HTTP\/1\.1 503 /);
    expect(head.toLowerCase()).toContain('connection: close');
    await conn.waitFor(/"error":"overloaded"/);
    expect(await endsSoon(conn)).toBe('end');
    void held;
  });
});

describe("sidelight's idle timeout during a stalled upload", () => {
  const ctx = rawAppBehindSidelight({ '/ignore': ignore }, (app) => ({ ingress: { app, idleTimeout: '1s' } }));

  it('408 stream_idle_timeout to an upload the app stopped reading: the client gets it and the connection ends', async () => {
    const { conn, head } = await upload(ctx.sl.ingress, '/ignore', 256 * MiB, true);
    expect(head).toMatch(/^HTTP\/1\.1 408 /);
    expect(head.toLowerCase()).toContain('connection: close');
    await conn.waitFor(/"error":"stream_idle_timeout"/);
    expect(await endsSoon(conn)).toBe('end');
    expect(await byPath(ctx.sl, '/ignore')).toMatchObject({ status: 408, error: 'stream_idle_timeout', requestIncomplete: true });
  });
});

describe('an upstream refuses an upload from the app (egress)', () => {
  const ctx = rawAppBehindSidelight({ '/reject-upload': refuseUpload }, (url) => ({ egress: { upstreams: { files: { url, retry: { attempts: 0 } } } } }));

  it('the app gets the 413 and its connection ends', async () => {
    const { conn, head } = await upload(ctx.sl.egress, '/files/reject-upload', 64 * MiB, false);
    expect(head).toMatch(/^HTTP\/1\.1 413 /);
    await conn.waitFor(/\{"error":"too large"\}/);
    expect(await endsSoon(conn)).toBe('end');
  });
});
