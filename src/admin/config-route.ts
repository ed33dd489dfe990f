// GET /config: the effective config, secrets redacted.
import { describeConfig } from '../config/describe.js';
import type { Config } from '../config/load.js';
import { sendJson, type AdminRouter } from './server.js';

export function addConfigRoute(router: AdminRouter, config: Config): void {
  const view = describeConfig(config);
  router.get('/config', (_req, res) => sendJson(res, 200, view));
}
