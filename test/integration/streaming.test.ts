// 256 MiB each way through the ingress while the sidecar's resident memory is sampled from
// /proc: streaming with backpressure keeps it flat; buffering would show as hundreds of MB.
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidelight, type RunningSidelight } from '../helpers/sidelight.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

const TOTAL = 256 * 1024 * 1024;
const BOUND_MB = 150;

function rssMB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}

/** Runs `transfer` while sampling the child's RSS; returns the peak growth over the baseline in MB. */
async function peakGrowth(pid: number, transfer: () => Promise<void>): Promise<number> {
  const baseline = rssMB(pid);
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMB(pid))), 25);
  try {
    await transfer();
  } finally {
    clearInterval(sampler);
  }
  return Math.max(peak, rssMB(pid)) - baseline;
}

function body(total: number): Readable {
  const chunk = Buffer.alloc(64 * 1024, 0x62);
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) return void this.push(null);
      const n = Math.min(chunk.length, total - sent);
      sent += n;
      this.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    },
  });
}

function upload(url: string, chunked: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = chunked ? {} : { 'content-length': String(TOTAL) };
    const req = httpRequest(url, { method: 'POST', headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d));
      res.on('end', () => resolve((JSON.parse(text) as { bodyBytes: number }).bodyBytes));
    });
    req.on('error', reject);
    body(TOTAL).pipe(req);
  });
}

function download(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    httpRequest(url, { agent: false }, (res) => {
      let n = 0;
      res.on('data', (d: Buffer) => (n += d.length));
      res.on('end', () => resolve(n));
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

describe('streaming 256 MiB', () => {
  let app: TestApp;
  let sl: RunningSidelight;
  beforeAll(async () => {
    app = await startTestApp();
    sl = await startSidelight({ args: ['--app', app.url] });
    await download(`${sl.ingress}/download?bytes=1048576`); // warm up the pool and JIT
  });
  afterAll(async () => {
    await sl?.stop();
    await app?.close();
  });

  it('downloads with the sidecar RSS bounded', async () => {
    let received = 0;
    const growth = await peakGrowth(sl.proc.pid!, async () => {
      received = await download(`${sl.ingress}/download?bytes=${TOTAL}`);
    });
    expect(received).toBe(TOTAL);
    expect(growth).toBeLessThan(BOUND_MB);
  });

  it('uploads with a content-length and chunked, with the sidecar RSS bounded', async () => {
    for (const chunked of [false, true]) {
      let counted = 0;
      const growth = await peakGrowth(sl.proc.pid!, async () => {
        counted = await upload(`${sl.ingress}/upload`, chunked);
      });
      expect(counted).toBe(TOTAL);
      expect(growth).toBeLessThan(BOUND_MB);
    }
  });
});
