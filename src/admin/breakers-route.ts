// Circuit breakers on the admin port: GET state and stats, POST open/close/reset (the router
// guards every POST: admin token, or loopback when none is set). Also the `upstreams` section
// of GET /health: breaker state, admission (requests and tunnels in flight) and pool stats per upstream.
import type { UpstreamTarget } from '../egress/upstream-target.js';
import type { HealthSection } from './health.js';
import { sendJson, type AdminRouter } from './server.js';

type Targets = ReadonlyMap<string, UpstreamTarget>;

function describe(t: UpstreamTarget): Record<string, unknown> {
  return {
    ...t.breaker.stats(),
    inflight: t.admission.inflight,
    maxInflight: t.admission.maxInflight,
    retryBudget: t.budget.snapshot(),
  };
}

export function addBreakerRoutes(router: AdminRouter, targets: Targets): void {
  const names = [...targets.keys()];
  const notFound = (name: string) => ({ error: 'not_found', message: `no upstream named "${name}"`, upstreams: names });

  router.get('/circuit-breakers', (_req, res) => {
    const body: Record<string, unknown> = {};
    for (const [name, t] of targets) body[name] = describe(t);
    sendJson(res, 200, body);
  });
  router.get('/circuit-breakers/:name', (_req, res, { name }) => {
    const t = targets.get(name);
    if (!t) return sendJson(res, 404, notFound(name));
    sendJson(res, 200, { name, ...describe(t) });
  });
  const action = (verb: 'open' | 'close' | 'reset') =>
    router.post(`/circuit-breakers/:name/${verb}`, (_req, res, { name }) => {
      const t = targets.get(name);
      if (!t) return sendJson(res, 404, notFound(name));
      if (verb === 'open') t.breaker.forceOpen();
      else if (verb === 'close') t.breaker.close();
      else t.breaker.reset();
      sendJson(res, 200, { name, ...describe(t) });
    });
  action('open');
  action('close');
  action('reset');
}

export function upstreamsHealth(targets: Targets): HealthSection {
  return () => {
    const upstreams: Record<string, unknown> = {};
    for (const [name, t] of targets) {
      const p = t.pool.stats;
      upstreams[name] = {
        origin: t.origin,
        breaker: t.breaker.state,
        inflight: t.admission.inflight,
        pool: { connected: p.connected, free: p.free, pending: p.pending, queued: p.queued, running: p.running, size: p.size },
      };
    }
    return { upstreams };
  };
}
