// The drain over HTTP/2: GOAWAY once refusing starts, streams in flight finish, new streams on an
// open connection are refused in a way clients retry safely.
import { describe, expect, it } from 'vitest';
import { FRAME, getHeaders, rawH2 } from '../helpers/h2-frames.js';
import { echoClient, type EchoReply, startGrpcApp } from '../helpers/grpc-app.js';
import { startSidelight } from '../helpers/sidelight.js';
import { startTestApp } from '../helpers/test-app.js';

const NO_ERROR = 0;
const REFUSED_STREAM = 7;

describe('drain over HTTP/2', () => {
  it('GOAWAY on SIGTERM: the stream in flight is answered; new streams, on that connection or a new one, never reach the app', async () => {
    const app = await startTestApp();
    const sidelight = await startSidelight({ config: { ingress: { app: app.url }, drain: { timeout: '10s' } } });
    try {
      const conn = await rawH2(Number(new URL(sidelight.ingress).port));
      conn.write(getHeaders(1, 'x', '/gate'));
      await expect.poll(() => app.inflight()).toBe(1);
      sidelight.proc.kill('SIGTERM');
      const goaway = await conn.waitFor((f) => f.type === FRAME.GOAWAY);
      expect(goaway.payload.readUInt32BE(4)).toBe(NO_ERROR);
      // the last stream it will process: stream 1
      expect(goaway.payload.readUInt32BE(0) & 0x7fffffff).toBe(1);
      conn.write(getHeaders(3, 'x', '/echo/late'));
      // A connection opened during the drain: its stream is reset REFUSED_STREAM, not answered 503.
      const late = await rawH2(Number(new URL(sidelight.ingress).port));
      late.write(getHeaders(1, 'x', '/echo/later'));
      const refused = await late.waitFor((f) => f.type === FRAME.RST_STREAM && f.streamId === 1);
      expect(refused.payload.readUInt32BE(0)).toBe(REFUSED_STREAM);
      app.openGate();
      const answered = await conn.waitFor((f) => f.type === FRAME.HEADERS && f.streamId === 1);
      expect(answered).toBeDefined();
      expect(await sidelight.exited).toBe(0);
      expect(conn.frames.some((f) => f.type === FRAME.HEADERS && f.streamId === 3)).toBe(false);
      expect(app.received.some((r) => r.url === '/echo/late' || r.url === '/echo/later')).toBe(false);
      const refusedLine = await sidelight.waitForLog((l) => l.msg === 'request' && l.path === '/echo/later');
      expect(refusedLine.error).toBe('draining');
    } finally {
      await sidelight.stop();
      await app.close();
    }
  });

  it('a gRPC stream in flight at SIGTERM runs to its end with status OK', async () => {
    const app = await startGrpcApp();
    const sidelight = await startSidelight({ config: { ingress: { app: app.url }, drain: { timeout: '10s' } } });
    const client = echoClient(sidelight.ingress.replace('http://', ''));
    try {
      const call = client.stream({ message: 'm', count: 5, delayMs: 200 });
      const got: string[] = [];
      const status = new Promise<number>((resolve) => call.on('status', (s) => resolve(s.code)));
      call.on('data', (m: EchoReply) => got.push(m.message));
      await expect.poll(() => got.length).toBeGreaterThan(0);
      sidelight.proc.kill('SIGTERM');
      expect(await status).toBe(0);
      expect(got).toEqual(['m 0', 'm 1', 'm 2', 'm 3', 'm 4']);
      expect(await sidelight.exited).toBe(0);
    } finally {
      client.close();
      await sidelight.stop();
      await app.close();
    }
  });
});
