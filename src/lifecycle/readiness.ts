// Is the app ready? Polled in the background every readiness.interval, so a kubelet probe
// never waits on the app: GET readiness.path answering 2xx, the gRPC health check answering
// SERVING (readiness.grpcHealth), or a TCP connect when neither is set. An h2c:// app is asked
// over HTTP/2.
import { connect } from 'node:net';
import type { Dispatcher } from 'undici';
import type { ServiceUrl } from '../config/values.js';
import { unbracket, urlPort } from '../net/address.js';
import { h2TrailersInterceptor } from '../proxy/h2-trailers.js';
import { Client, requestVia, type PoolOptions } from '../proxy/undici.js';
import type { DrainState } from './drain.js';
import { checkGrpcHealth } from './grpc-health.js';

export interface ReadinessOptions {
  app: ServiceUrl;
  path?: string;
  /** ask grpc.health.v1.Health/Check about `grpcService` (the config has checked the app is h2c://) */
  grpcHealth: boolean;
  grpcService?: string;
  interval: number;
  timeout: number;
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, string>;
}

export class Readiness {
  private appResult = 'pending: first check not done';
  private started = false;
  private timer: NodeJS.Timeout | undefined;
  private listeners: Array<(report: ReadinessReport) => void> = [];
  /** one kept-alive connection for the checks, opened on the first */
  private client: Dispatcher | undefined;

  constructor(
    private readonly options: ReadinessOptions,
    private readonly drain: DrainState,
  ) {}

  /** the sidecar's own listeners are up */
  markStarted(): void {
    this.started = true;
    this.notify();
  }

  start(): void {
    const tick = () => {
      void this.checkApp().then((result) => {
        const changed = result !== this.appResult;
        this.appResult = result;
        if (changed) this.notify();
        this.timer = setTimeout(tick, this.options.interval);
        this.timer.unref();
      });
    };
    tick();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    void this.client?.destroy();
  }

  /** told the report whenever the app's check or the start-up state changes */
  onChange(listener: (report: ReadinessReport) => void): void {
    this.listeners.push(listener);
  }

  report(): ReadinessReport {
    const checks: Record<string, string> = {
      startup: this.started ? 'ok' : 'pending',
      draining: this.drain.draining ? `failing: draining (${this.drain.reason})` : 'ok',
      app: this.appResult,
    };
    return { ready: Object.values(checks).every((c) => c === 'ok'), checks };
  }

  private notify(): void {
    const report = this.report();
    for (const l of this.listeners) l(report);
  }

  private connection(): Dispatcher {
    const { app } = this.options;
    if (this.client) return this.client;
    const options: PoolOptions = { keepAliveTimeout: 60_000, ...(app.h2c ? { allowH2: true, useH2c: true } : {}) };
    const client = new Client(app.origin, options);
    this.client = app.h2c ? client.compose(h2TrailersInterceptor()) : client;
    return this.client;
  }

  private async checkApp(): Promise<string> {
    const { app, path, timeout } = this.options;
    if (this.options.grpcHealth) {
      try {
        return await checkGrpcHealth(this.connection(), this.options.grpcService ?? '', timeout);
      } catch (err) {
        return `failing: grpc health: ${describe(err)}`;
      }
    }
    if (path) {
      try {
        const res = await requestVia(this.connection(), {
          path,
          method: 'GET',
          headersTimeout: timeout,
          bodyTimeout: timeout,
          signal: AbortSignal.timeout(timeout),
          headers: { 'user-agent': 'sidelight-readiness' },
        });
        await res.body.dump();
        return res.statusCode >= 200 && res.statusCode < 300 ? 'ok' : `failing: ${path} answered ${res.statusCode}`;
      } catch (err) {
        return `failing: ${path}: ${describe(err)}`;
      }
    }
    return new Promise((resolve) => {
      const socket = connect({ host: unbracket(app.hostname), port: urlPort(app), timeout });
      socket.once('connect', () => {
        socket.destroy();
        resolve('ok');
      });
      socket.once('timeout', () => {
        socket.destroy();
        resolve('failing: tcp connect timed out');
      });
      socket.once('error', (err) => resolve(`failing: tcp connect: ${describe(err)}`));
    });
  }
}

/** undici's own limits on one check: whichever of them and the signal fires first, the words are the same */
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

function describe(err: unknown): string {
  const e = err as { code?: unknown; name?: string; message?: string; cause?: { code?: string } };
  // the signal's TimeoutError is a DOMException, whose numeric `code` (23) says nothing
  const code = typeof e.code === 'string' ? e.code : e.cause?.code;
  if (e.name === 'TimeoutError' || (code !== undefined && TIMEOUT_CODES.has(code))) return 'timed out';
  return code ?? e.message ?? String(err);
}
