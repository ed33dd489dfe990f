// One flat JSON line per request (and per egress CONNECT tunnel). Headers are never logged, so Authorization, cookies and
// API keys cannot leak; the query string (tokens, personal data) only when asked for.
//
// The line is written straight into the logger's destination in pino's own shape (level label,
// ISO time, base bindings): on this path pino's generic serializer (a key loop, a Date per line)
// was the largest cost sidelight adds to a proxied request. Values that can hold arbitrary
// text (path, route, user agent, tunnel target) go through JSON.stringify; the others are tokens
// that cannot need escaping: methods Node's parser accepted, listener and upstream names the
// config validated, sidelight's error codes, IP addresses, request ids of [A-Za-z0-9._:-].
// Lines are encoded into a buffer as they finish and reach the destination a batch at a time.
import type { Exchange, TunnelFacts } from '../proxy/exchange.js';
import type { Layer } from '../proxy/layer.js';
import type { LogSink } from '../telemetry/logger.js';
import { rpcStatusLabel } from '../telemetry/rpc-metrics.js';

/** A line is visible in the destination at most this late (the logger's own timer then writes it out). */
const BATCH_MS = 200;
const BATCH_BYTES = 64 * 1024;

export function accessLogLayer(log: LogSink, options: { logQuery: boolean }): Layer {
  const logger = log.logger;
  if (!logger.isLevelEnabled('info')) return { name: 'access-log' };
  const bindings = JSON.stringify(logger.bindings()).slice(1, -1);
  const head = `{"level":"info","time":"`;
  const afterTime = (msg: string) => `"${bindings ? `,${bindings}` : ''},"msg":"${msg}","listener":`;
  const request = afterTime('request');
  const tunnel = afterTime('tunnel');
  const clock = new IsoClock();
  const batch = new LineBatch(log);
  const start = (kind: string, ex: Exchange): string =>
    `${head}${clock.now()}${kind}"${ex.listener}","requestId":"${ex.requestId}","method":"${ex.method}"`;
  const end = (ex: Exchange, text: string): string => {
    text += `,"remoteAddress":"${ex.remoteAddress}"`;
    const userAgent = ex.req.headers['user-agent'];
    if (userAgent !== undefined) text += `,"userAgent":${JSON.stringify(userAgent)}`;
    if (ex.errorCode) text += `,"error":"${ex.errorCode}"`;
    if (ex.traceId) text += `,"traceId":"${ex.traceId}","spanId":"${ex.spanId}"`;
    return `${text}}\n`;
  };
  const line = (ex: Exchange): string => {
    let text = `${start(request, ex)},"path":${JSON.stringify(options.logQuery ? ex.path + ex.query : ex.path)}`;
    // Always there ("" when no ingress.routes template matched, as in http_route): every line has the same fields.
    text += `,"route":${ex.route === '' ? '""' : JSON.stringify(ex.route)}`;
    text += `,"status":${ex.status}`;
    // A status name or its digits: a token, no escaping. Only on gRPC calls' lines.
    if (ex.grpc) text += `,"grpcStatus":"${rpcStatusLabel(ex.grpcStatus)}"`;
    text += `,"durationMs":${roundMs(ex.durationMs)},"bytesIn":${ex.bytesIn},"bytesOut":${ex.bytesOut}`;
    if (ex.requestIncomplete) text += `,"requestIncomplete":true`;
    if (ex.upstream) text += `,"upstream":"${ex.upstream}"`;
    return end(ex, text);
  };
  // One line per CONNECT tunnel to a configured upstream; bytesIn went to the upstream, bytesOut came back.
  const tunnelLine = (ex: Exchange, t: TunnelFacts): string => {
    let text = `${start(tunnel, ex)},"target":${JSON.stringify(t.target)},"upstream":"${ex.upstream}","status":${ex.status},"outcome":"${t.outcome}"`;
    if (t.closedBy) text += `,"closedBy":"${t.closedBy}"`;
    text += `,"connectMs":${roundMs(t.connectMs)},"durationMs":${roundMs(ex.durationMs)},"bytesIn":${ex.bytesIn},"bytesOut":${ex.bytesOut}`;
    return end(ex, text);
  };
  return {
    name: 'access-log',
    onDone(ex) {
      batch.add(ex.tunnel === undefined ? line(ex) : tunnelLine(ex, ex.tunnel));
    },
  };
}

/** milliseconds to three decimals */
const roundMs = (value: number): number => Math.round(value * 1000) / 1000;

/** "000" … "999" */
const MILLIS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

/**
 * ISO-8601 time: the date and second formatted once per second, the milliseconds appended.
 * toISOString per line cost more than the rest of the line at a few hundred requests a second.
 */
export class IsoClock {
  private ms = 0;
  private text = '';
  private second = 0;
  /** "2026-11-23T11:20:05." */
  private prefix = '';

  now(): string {
    const ms = Date.now();
    if (ms !== this.ms) {
      this.ms = ms;
      const second = Math.floor(ms / 1000);
      if (second !== this.second) {
        this.second = second;
        this.prefix = new Date(second * 1000).toISOString().slice(0, 20);
      }
      this.text = `${this.prefix}${MILLIS[ms - second * 1000]}Z`;
    }
    return this.text;
  }
}

/** Encodes lines into a buffer and hands it to the destination when full, on a timer and at exit. */
export class LineBatch {
  private buf = Buffer.allocUnsafe(BATCH_BYTES);
  private pos = 0;

  constructor(private readonly log: Pick<LogSink, 'writeLines' | 'flushSync'>) {
    setInterval(() => this.flush(), BATCH_MS).unref();
    // The CLI flushes the logger before process.exit(); lines still here are written synchronously.
    process.once('exit', () => {
      if (this.flush()) this.log.flushSync();
    });
  }

  add(line: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    if (this.pos + 3 * line.length > this.buf.length) {
      this.flush();
      if (3 * line.length > this.buf.length) {
        this.log.writeLines(Buffer.from(line));
        return;
      }
    }
    this.pos += this.buf.write(line, this.pos);
  }

  /** true when something was handed to the destination */
  flush(): boolean {
    if (this.pos === 0) return false;
    // The destination keeps the bytes until they are written, so what it gets is never reused. A
    // timer's partial batch goes as a copy of its size and the buffer stays: on a quiet service a
    // fresh 64 KB per tick would be 64 KB of garbage for a line or two.
    if (this.pos < BATCH_BYTES / 2) {
      this.log.writeLines(Buffer.from(this.buf.subarray(0, this.pos)));
    } else {
      this.log.writeLines(this.buf.subarray(0, this.pos));
      this.buf = Buffer.allocUnsafe(BATCH_BYTES);
    }
    this.pos = 0;
    return true;
  }
}
