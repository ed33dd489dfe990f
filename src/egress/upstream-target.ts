// One undici pool per upstream, with TLS verification on.
import { Pool } from 'undici';
import type { Upstream } from '../config/load.js';
import type { Target } from '../proxy/layer.js';

export interface UpstreamTarget extends Target {
  readonly pool: Pool;
}

export function createUpstreamTarget(upstream: Upstream): UpstreamTarget {
  const origin = upstream.url.origin;
  const pool = new Pool(origin, { connections: upstream.connections, keepAliveTimeout: 4_000 });
  return { name: upstream.name, dispatcher: pool, pool, origin, host: upstream.url.host, timeout: upstream.timeout };
}
