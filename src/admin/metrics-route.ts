// GET /metrics: Prometheus text by default; OpenMetrics (with trace exemplars on the duration
// histograms) when the scraper's Accept header asks for application/openmetrics-text, as
// Prometheus itself does.
import type { IncomingMessage } from 'node:http';
import type { Format } from '../telemetry/metric-family.js';
import { CONTENT_TYPE, type MetricRegistry } from '../telemetry/metric-registry.js';
import type { AdminRouter } from './server.js';

export function negotiateFormat(req: IncomingMessage): Format {
  const accept = req.headers.accept ?? '';
  // Only an explicit, non-zero preference counts: "application/openmetrics-text;q=0" is a refusal.
  for (const part of accept.split(',')) {
    const [type, ...params] = part.trim().split(';');
    if (type.trim().toLowerCase() !== 'application/openmetrics-text') continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (!q || Number(q.slice(2)) > 0) return 'openmetrics';
  }
  return 'text';
}

export function addMetricsRoute(router: AdminRouter, metrics: MetricRegistry): void {
  router.get('/metrics', async (req, res) => {
    const format = negotiateFormat(req);
    const body = await metrics.render(format);
    res.writeHead(200, {
      'content-type': CONTENT_TYPE[format],
      'cache-control': 'no-store',
      'content-length': String(Buffer.byteLength(body)),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
}
