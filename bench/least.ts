// The least code that gives each request what sidelight gives it, written inline on the floor
// (bench/floor.mjs): no exchange record, no layers, no in-flight registry, no deadline, no
// drain, no error answers. It prices the features' own work, so that the rows read
//   least ÷ floor      what the feature costs however it is written, with sidelight's encoders;
//   sidelight ÷ least  what sidelight's structure (pipeline, layers, exchange record) adds.
// FEATURES (comma-separated): id (X-Request-ID both ways), log (the same access-log line, in
// 64 KB batches to stdout), metrics (one histogram observation with its trace exemplar), trace (the
// same server span, sampled at 1.0, through sidelight's own span pipeline to OTLP_ENDPOINT).
// Built by bench/contenders.mjs with esbuild; it imports sidelight's telemetry from src/.
import { randomUUID } from 'node:crypto';
import { write } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { IsoClock, LineBatch } from '../src/layers/access-log.js';
import { Pool } from '../src/proxy/undici.js';

const features = new Set((process.env.FEATURES ?? '').split(','));
const ID = features.has('id');
const LOG = features.has('log');
const TRACE = features.has('trace');
const pool = new Pool(process.env.UPSTREAM as string, { keepAliveTimeout: 4_000, headersTimeout: 0, bodyTimeout: 0 });
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host']);
const WELL_FORMED = /^[A-Za-z0-9._:-]{1,128}$/;

// Telemetry code is loaded only for the features that use it: a row without spans or metrics
// carries no more code than the floor (least-none checks that it reads as the floor).
const telemetry = TRACE || features.has('metrics') ? await import('./least-telemetry.js') : undefined;
const tracing = TRACE ? telemetry!.startSpans() : undefined;
const series = features.has('metrics') ? telemetry!.serverSeries() : undefined;

// The access log's own clock and batching (64 KB batches, written when full or every 200 ms).
const clock = new IsoClock();
const batch = LOG ? new LineBatch({ writeLines: (lines) => write(1, lines, () => {}), flushSync() {} }) : undefined;

class Forward implements Dispatcher.DispatchHandler {
  status = 0;
  bytesOut = 0;
  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly startedAt: number,
    readonly requestId: string,
    readonly traceId: string,
    readonly spanId: string,
  ) {}
  onRequestStart(): void {}
  onResponseStart(controller: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[] | undefined>): void {
    for (const name of HOP) delete headers[name];
    if (ID) headers['x-request-id'] = this.requestId;
    if (TRACE) headers.traceresponse = `00-${this.traceId}-${this.spanId}-01`;
    this.status = status;
    this.res.writeHead(status, headers as Record<string, string>);
  }
  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.bytesOut += chunk.length;
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', () => controller.resume());
    }
  }
  onResponseEnd(): void {
    this.res.end();
    const durationMs = performance.now() - this.startedAt;
    if (series) series.observeWithTrace(durationMs / 1000, this.traceId);
    if (tracing) tracing.record(telemetry!.serverSpan(this.req, this.requestId, this.status, this.traceId, this.spanId, this.startedAt, durationMs));
    if (LOG) this.log(durationMs);
  }
  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.res.headersSent) this.res.destroy(err);
    else this.res.writeHead(502).end();
  }

  private log(durationMs: number): void {
    const req = this.req;
    const ua = req.headers['user-agent'];
    let line = `{"level":"info","time":"${clock.now()}","service":"app","msg":"request","listener":"ingress","requestId":"${this.requestId}","method":"${req.method}","path":${JSON.stringify(req.url)}`;
    line += `,"status":${this.status},"durationMs":${Math.round(durationMs * 1000) / 1000},"bytesIn":0,"bytesOut":${this.bytesOut},"upstream":"app","remoteAddress":"${req.socket.remoteAddress}"`;
    if (ua !== undefined) line += `,"userAgent":${JSON.stringify(ua)}`;
    if (this.traceId) line += `,"traceId":"${this.traceId}","spanId":"${this.spanId}"`;
    batch!.add(`${line}}\n`);
  }
}

createServer((req, res) => {
  const raw = req.rawHeaders;
  const headers: string[] = [];
  let host = '';
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (name === 'host') host = raw[i + 1];
    else if (!HOP.has(name) && name !== 'x-request-id' && name !== 'traceparent') headers.push(name, raw[i + 1]);
  }
  let requestId = '';
  if (ID) {
    const given = req.headers['x-request-id'];
    requestId = typeof given === 'string' && WELL_FORMED.test(given) ? given : randomUUID();
    headers.push('x-request-id', requestId);
  }
  const traceId = TRACE ? telemetry!.newTraceId() : '';
  const spanId = TRACE ? telemetry!.newSpanId() : '';
  if (TRACE) headers.push('traceparent', `00-${traceId}-${spanId}-01`);
  headers.push('host', host, 'x-forwarded-for', req.socket.remoteAddress ?? '', 'x-forwarded-proto', 'http', 'x-forwarded-host', host);
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  const handler = new Forward(req, res, performance.now(), requestId, traceId, spanId);
  pool.dispatch({ path: req.url as string, method: req.method as Dispatcher.HttpMethod, headers, body: hasBody ? req : null }, handler);
}).listen(Number(process.env.PORT), '127.0.0.1', () => console.error(`least (${[...features].join(',')}) on ${process.env.PORT}`));

process.on('SIGTERM', () => {
  batch?.flush();
  void (tracing?.shutdown() ?? Promise.resolve()).then(() => process.exit(0));
});
