// GET /stats: the live per-route and per-upstream figures (src/stats/live-stats.ts), for
// `sidelight stat` and the admin page. Open like the other GETs: it shows no paths or ids.
import type { LiveStats } from '../stats/live-stats.js';
import { sendJson, type AdminRouter } from './server.js';

export function addStatsRoute(router: AdminRouter, stats: LiveStats): void {
  router.get('/stats', (_req, res) => sendJson(res, 200, stats.report()));
}
