// The tap's fan-out: each record is serialised once and handed to every connected client whose
// filter matches. The data path never waits for a tap client: lines are queued per client only
// up to maxBufferBytes (a slow reader loses lines beyond it) and up to maxLinesPerSecond (a
// token bucket refilled from the clock on publish, no timer per client), and each client is told
// how many it lost before its next line. Writes are batched into one per client per turn of the
// event loop. The latest failures are kept (a bounded few) for a client that asks for them when
// it connects (the admin page's table); with no client connected, publishers hand over failures
// only.
import type { ServerResponse } from 'node:http';
import { matches, type TapFilter } from './filter.js';
import { isFailure, type TapRecord } from './record.js';

export type TapFormat = 'ndjson' | 'sse';

export interface TapLimits {
  maxClients: number;
  maxLinesPerSecond: number;
  maxBufferBytes: number;
}

/** failed exchanges and tunnels kept for clients that connect later */
export const RECENT_FAILURES = 50;

/** Keeps idle SSE streams open through proxies that close quiet connections. */
const SSE_HEARTBEAT_MS = 15_000;

class TapClient {
  /** frames waiting for this turn's batched write */
  pending = '';
  tokens: number;
  refilledAt = performance.now();
  /** lines lost since the last notice, by reason */
  lostToRate = 0;
  lostToSlowness = 0;

  constructor(
    readonly res: ServerResponse,
    readonly filter: TapFilter,
    readonly format: TapFormat,
    readonly rate: number,
  ) {
    this.tokens = rate;
  }

  /** token bucket: up to one second's worth of lines in a burst */
  take(now: number): boolean {
    this.tokens = Math.min(this.rate, this.tokens + ((now - this.refilledAt) * this.rate) / 1000);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  frame(json: string): string {
    return this.format === 'sse' ? `data: ${json}\n\n` : `${json}\n`;
  }
}

export class TapHub {
  /** connected clients; publishers check this before building anything */
  clients = 0;
  /** lines written, dropped (by reason) and clients turned away, for the metrics */
  readonly counts = { lines: 0, droppedRate: 0, droppedSlow: 0, rejectedClients: 0 };
  private readonly list: TapClient[] = [];
  /** the latest failures, oldest first, with their JSON */
  private readonly recent: Array<{ record: TapRecord; json: string }> = [];
  private flushQueued = false;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    readonly limits: TapLimits,
    private readonly heartbeatMs = SSE_HEARTBEAT_MS,
  ) {}

  /**
   * Starts a stream on `res`, with the kept failures that match first when `recent`; false when
   * maxClients are already connected (nothing is written).
   */
  attach(res: ServerResponse, filter: TapFilter, format: TapFormat, recent = false): boolean {
    if (this.list.length >= this.limits.maxClients) {
      this.counts.rejectedClients++;
      return false;
    }
    const client = new TapClient(res, filter, format, this.limits.maxLinesPerSecond);
    this.list.push(client);
    this.clients = this.list.length;
    res.once('close', () => this.detach(client));
    res.writeHead(200, {
      'content-type': format === 'sse' ? 'text/event-stream; charset=utf-8' : 'application/x-ndjson',
      'cache-control': 'no-store',
      // nginx and similar proxies would otherwise buffer the stream
      'x-accel-buffering': 'no',
    });
    // An SSE comment, so EventSource and fetch readers see the stream open at once.
    if (format === 'sse') res.write(': sidelight tap\n\n');
    else res.flushHeaders();
    if (recent) this.replayRecent(client);
    if (!this.heartbeat) {
      this.heartbeat = setInterval(() => this.beat(), this.heartbeatMs);
      this.heartbeat.unref();
    }
    return true;
  }

  publish(record: TapRecord): void {
    const now = performance.now();
    const max = this.limits.maxBufferBytes;
    let json: string | undefined;
    let written = false;
    if (isFailure(record)) {
      json = JSON.stringify(record);
      this.recent.push({ record, json });
      if (this.recent.length > RECENT_FAILURES) this.recent.shift();
    }
    for (const client of this.list) {
      if (!matches(client.filter, record)) continue;
      if (!client.take(now)) {
        client.lostToRate++;
        this.counts.droppedRate++;
        continue;
      }
      if (client.res.writableLength + client.pending.length > max) {
        client.lostToSlowness++;
        this.counts.droppedSlow++;
        continue;
      }
      if (client.lostToRate || client.lostToSlowness) this.notifyLoss(client, record.time);
      json ??= JSON.stringify(record);
      client.pending += client.frame(json);
      this.counts.lines++;
      written = true;
    }
    if (!this.flushQueued && written) {
      this.flushQueued = true;
      setImmediate(this.flush);
    }
  }

  private replayRecent(client: TapClient): void {
    for (const { record, json } of this.recent) {
      if (!matches(client.filter, record)) continue;
      client.pending += client.frame(json);
      this.counts.lines++;
    }
    if (client.pending !== '' && !this.flushQueued) {
      this.flushQueued = true;
      setImmediate(this.flush);
    }
  }

  /** Ends every stream (the sidecar is stopping). */
  close(): void {
    for (const client of [...this.list]) client.res.end();
  }

  private notifyLoss(client: TapClient, time: string): void {
    const notice = { kind: 'dropped', time, rate: client.lostToRate, slow: client.lostToSlowness };
    client.lostToRate = client.lostToSlowness = 0;
    client.pending += client.frame(JSON.stringify(notice));
  }

  private readonly flush = (): void => {
    this.flushQueued = false;
    for (const client of this.list) {
      if (client.pending === '') continue;
      client.res.write(client.pending);
      client.pending = '';
    }
  };

  private beat(): void {
    for (const client of this.list) if (client.format === 'sse') client.res.write(':\n\n');
  }

  private detach(client: TapClient): void {
    const i = this.list.indexOf(client);
    if (i !== -1) this.list.splice(i, 1);
    this.clients = this.list.length;
    if (this.list.length === 0 && this.heartbeat) {
      clearInterval(this.heartbeat);
      this.heartbeat = undefined;
    }
  }
}
