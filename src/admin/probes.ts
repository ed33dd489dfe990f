// Kubernetes probes: /live answers while the event loop turns; /ready reports the readiness checks.
import type { Readiness } from '../lifecycle/readiness.js';
import { sendJson, type AdminRouter } from './server.js';

export function addProbeRoutes(router: AdminRouter, readiness: Readiness): void {
  const live: Parameters<AdminRouter['get']>[1] = (_req, res) => sendJson(res, 200, { status: 'alive' });
  const ready: Parameters<AdminRouter['get']>[1] = (_req, res) => {
    const report = readiness.report();
    sendJson(res, report.ready ? 200 : 503, { status: report.ready ? 'ready' : 'not_ready', checks: report.checks });
  };
  router.get('/live', live).get('/health/live', live).get('/ready', ready).get('/health/ready', ready);
}
