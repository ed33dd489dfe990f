// The app behind the ingress listener: one keep-alive pool, the client's Host kept as it is.
import { Client, Pool, type PoolOptions } from '../proxy/undici.js';
import type { Config } from '../config/load.js';
import type { Target } from '../proxy/layer.js';
import { reuseAwareConnector, staleConnectionRetryInterceptor, type ConnectionObserver } from '../proxy/stale-connection.js';
import { asteriskFormInterceptor } from './asterisk-form.js';

export interface AppTarget extends Target {
  readonly pool: Pool;
}

export function createAppTarget(config: Config, observers: readonly ConnectionObserver[]): AppTarget {
  const origin = config.ingress.app.origin;
  // No connection cap here: the overload layer bounds requests in flight, so the pool never queues unboundedly.
  // maxHeaderSize: the app's response head gets the same limit as the client's request head.
  const connection: PoolOptions = {
    keepAliveTimeout: 4_000,
    headersTimeout: 0,
    bodyTimeout: 0,
    maxHeaderSize: config.limits.maxHeaderBytes,
    connect: reuseAwareConnector({ timeout: 10_000 }),
  };
  const pool = new Pool(origin, connection);
  const dispatcher = pool.compose(
    staleConnectionRetryInterceptor('app', () => new Client(origin, connection), observers),
    asteriskFormInterceptor(config.ingress.app),
  );
  return { name: 'app', dispatcher, pool, origin, host: undefined, setForwarded: true, timeout: config.ingress.timeout };
}
