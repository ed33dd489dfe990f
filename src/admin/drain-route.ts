// POST /drain: start the drain from a preStop hook (token, or loopback when none is set).
import { sendJson, type AdminRouter } from './server.js';

export function addDrainRoute(router: AdminRouter, startDrain: (reason: string) => boolean): void {
  router.post('/drain', (_req, res) => {
    const started = startDrain('POST /drain');
    sendJson(res, 202, { status: 'draining', started });
  });
}
