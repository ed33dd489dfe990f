// One flat JSON line per request (and per egress CONNECT tunnel). Headers are never logged, so Authorization, cookies and
// API keys cannot leak; the query string (tokens, personal data) only when asked for.
//
// The line is written straight into pino's destination in pino's own shape (level label, ISO
// time, base bindings): on this path pino's generic serializer (a key loop, a Date per line)
// was the largest cost sidelight adds to a proxied request. Values that can hold arbitrary
// text go through JSON.stringify; the others are validated tokens or numbers. Lines reach the
// destination in batches: sonic-boom measures the byte length of its whole pending buffer on
// every write, which made one write per line cost more than building the line.
import pino from 'pino';
import type { Exchange, TunnelFacts } from '../proxy/exchange.js';
import type { Layer } from '../proxy/layer.js';
import type { Logger } from '../telemetry/logger.js';

interface Destination {
  write(text: string): unknown;
  flushSync?(): void;
}

/** A line is visible in the destination at most this late (pino's own timer then writes it out). */
const BATCH_MS = 200;
const BATCH_LINES = 256;

export function accessLogLayer(logger: Logger, options: { logQuery: boolean }): Layer {
  if (!logger.isLevelEnabled('info')) return { name: 'access-log' };
  const destination = (logger as unknown as Record<symbol, Destination>)[pino.symbols.streamSym];
  const bindings = JSON.stringify(logger.bindings()).slice(1, -1);
  const head = `{"level":"info","time":"`;
  const afterTime = (msg: string) => `"${bindings ? `,${bindings}` : ''},"msg":"${msg}","listener":`;
  const request = afterTime('request');
  const tunnel = afterTime('tunnel');
  const clock = new IsoClock();
  const batch = new LineBatch(destination);
  const start = (kind: string, ex: Exchange): string =>
    `${head}${clock.now()}${kind}${JSON.stringify(ex.listener)},"requestId":"${ex.requestId}","method":${JSON.stringify(ex.method)}`;
  const end = (ex: Exchange, text: string): string => {
    text += `,"remoteAddress":${JSON.stringify(ex.remoteAddress)}`;
    const userAgent = ex.req.headers['user-agent'];
    if (userAgent !== undefined) text += `,"userAgent":${JSON.stringify(userAgent)}`;
    if (ex.errorCode) text += `,"error":${JSON.stringify(ex.errorCode)}`;
    if (ex.traceId) text += `,"traceId":"${ex.traceId}","spanId":"${ex.spanId}"`;
    return `${text}}\n`;
  };
  const line = (ex: Exchange): string => {
    let text = `${start(request, ex)},"path":${JSON.stringify(options.logQuery ? ex.path + ex.query : ex.path)}`;
    if (ex.route) text += `,"route":${JSON.stringify(ex.route)}`;
    text += `,"status":${ex.status},"durationMs":${roundMs(ex.durationMs)},"bytesIn":${ex.bytesIn},"bytesOut":${ex.bytesOut}`;
    if (ex.upstream) text += `,"upstream":${JSON.stringify(ex.upstream)}`;
    return end(ex, text);
  };
  // One line per CONNECT tunnel to a configured upstream; bytesIn went to the upstream, bytesOut came back.
  const tunnelLine = (ex: Exchange, t: TunnelFacts): string => {
    let text = `${start(tunnel, ex)},"target":${JSON.stringify(t.target)},"upstream":${JSON.stringify(ex.upstream)},"status":${ex.status},"outcome":"${t.outcome}"`;
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

/** ISO-8601 time, formatted once per millisecond rather than once per line. */
class IsoClock {
  private ms = 0;
  private text = '';

  now(): string {
    const ms = Date.now();
    if (ms !== this.ms) {
      this.ms = ms;
      this.text = new Date(ms).toISOString();
    }
    return this.text;
  }
}

/** Joins lines and hands them to the destination a few KB at a time; flushed on a timer and at exit. */
class LineBatch {
  private text = '';
  private count = 0;

  constructor(private readonly destination: Destination) {
    setInterval(() => this.flush(), BATCH_MS).unref();
    // The CLI flushes the logger before process.exit(); lines still here are written synchronously.
    process.once('exit', () => {
      if (this.flush()) {
        try {
          this.destination.flushSync?.();
        } catch {
          // stdout already closed: nothing left to save
        }
      }
    });
  }

  add(line: string): void {
    this.text += line;
    if (++this.count >= BATCH_LINES) this.flush();
  }

  /** true when something was handed to the destination */
  flush(): boolean {
    if (this.count === 0) return false;
    const text = this.text;
    this.text = '';
    this.count = 0;
    this.destination.write(text);
    return true;
  }
}
