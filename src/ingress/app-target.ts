// The app behind the ingress listener: one keep-alive pool, the client's Host kept as it is.
import { Client, Pool, type PoolOptions } from '../proxy/undici.js';
import type { Config } from '../config/load.js';
import type { TimeoutLimits } from '../proxy/exchange.js';
import { limit } from '../proxy/inflight.js';
import type { TimedTarget } from '../proxy/target-timeouts.js';
import { reuseAwareConnector, staleConnectionRetryInterceptor, type ConnectionObserver } from '../proxy/stale-connection.js';
import { nodeHttpInterceptor } from './node-http-transport.js';
import { h2TrailersInterceptor } from '../proxy/h2-trailers.js';

export interface AppTarget extends TimedTarget {
  readonly pool: Pool;
}

export function createAppTarget(config: Config, observers: readonly ConnectionObserver[]): AppTarget {
  const app = config.ingress.app;
  const origin = app.origin;
  // No connection cap here: the overload layer bounds requests in flight, so the pool never queues unboundedly.
  // maxHeaderSize: the app's response head gets the same limit as the client's request head.
  const connection: PoolOptions = {
    keepAliveTimeout: 4_000,
    headersTimeout: 0,
    bodyTimeout: 0,
    maxHeaderSize: config.limits.maxHeaderBytes,
    // h2c://: HTTP/2 by prior knowledge (the connector marks the socket h2). One call per
    // connection at a time: undici's h2 client holds a non-idempotent request (every gRPC call is
    // a POST) until its connection has nothing else running, so a long stream would hold up every
    // call queued behind it on a shared connection.
    connect: reuseAwareConnector({ timeout: 10_000, ...(app.h2c ? ({ useH2c: true } as object) : {}) }),
    ...(app.h2c ? { allowH2: true, pipelining: 1 } : {}),
  };
  const pool = new Pool(origin, connection);
  // h2TrailersInterceptor innermost, on the pool and on the stale-connection resend's own client
  const h2Trailers = app.h2c ? [h2TrailersInterceptor()] : [];
  const stale = staleConnectionRetryInterceptor('app', () => new Client(origin, connection).compose(h2Trailers), observers);
  // `Expect: 100-continue` goes to an HTTP/1.1 app by node:http (undici refuses the header); an h2c app never gets it.
  const dispatcher = app.h2c ? pool.compose(...h2Trailers, stale) : pool.compose(stale, nodeHttpInterceptor(app));
  const timeouts = exchangeLimits(config.ingress);
  return {
    name: 'app',
    dispatcher,
    pool,
    origin,
    host: undefined,
    setForwarded: true,
    http2: app.h2c,
    timeout: config.ingress.timeout,
    timeouts: timeouts.byRoute.size === 0 ? () => timeouts.all : (ex) => timeouts.byRoute.get(ex.route) ?? timeouts.all,
  };
}

type Durations = { timeout?: number; idleTimeout?: number; maxDuration?: number };

/** The listener's limits, and each route's: what a route leaves out is the listener's. */
function exchangeLimits(ingress: Config['ingress']): { all: TimeoutLimits; byRoute: Map<string, TimeoutLimits> } {
  const of = (d: Durations, base?: Durations): TimeoutLimits => ({
    head: limit(d.timeout ?? base?.timeout),
    idle: limit(d.idleTimeout ?? base?.idleTimeout),
    max: limit(d.maxDuration ?? base?.maxDuration),
  });
  const byRoute = new Map<string, TimeoutLimits>();
  for (const [template, d] of Object.entries(ingress.routeTimeouts)) byRoute.set(template, of(d, ingress));
  return { all: of(ingress), byRoute };
}
