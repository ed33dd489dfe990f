// Which upstream an egress request is for. Never an open proxy: anything that is not a
// configured upstream is answered 404 here and goes nowhere.
import type { Upstream } from '../config/load.js';
import type { Exchange } from '../proxy/exchange.js';
import { rejection, type Rejection, type Target } from '../proxy/layer.js';

export function createRouter(upstreams: Upstream[], targets: Map<string, Target>) {
  const names = upstreams.map((u) => u.name);
  const unknown = (): Rejection =>
    rejection(404, 'unknown_upstream', 'no configured upstream matches this request', { details: { upstreams: names } });

  /** the shared egress port: path prefix /NAME/… */
  return function resolve(ex: Exchange): Target | Rejection {
    const url = ex.upstreamPath;
    const slash = url.indexOf('/', 1);
    const name = url.slice(1, slash === -1 ? undefined : slash).split('?')[0];
    const target = targets.get(name);
    if (!target) return unknown();
    ex.upstreamPath = slash === -1 ? '/' + url.slice(1 + name.length) : url.slice(slash);
    return target;
  };
}
