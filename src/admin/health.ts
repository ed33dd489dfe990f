// GET /health: one JSON document for a human or a dashboard: process vitals and, from the
// sections other parts register (breakers, pools), the state of every upstream.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { DrainState } from '../lifecycle/drain.js';
import type { Readiness } from '../lifecycle/readiness.js';
import { VERSION } from '../version.js';
import { sendJson, type AdminRouter } from './server.js';

export type HealthSection = () => Record<string, unknown>;

/** the lag monitor's sampling interval, ms */
const LAG_RESOLUTION_MS = 20;

export function addHealthRoute(
  router: AdminRouter,
  deps: { drain: DrainState; readiness: Readiness; sections: HealthSection[] },
): void {
  // Each sample is the whole time between two timer ticks, interval included: the lag is what
  // lies beyond the interval (an idle loop would otherwise report 20 ms).
  const lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  lag.enable();
  router.get('/health', (_req, res) => {
    const report = deps.readiness.report();
    const memory = process.memoryUsage();
    const cpu = process.cpuUsage();
    const mb = (n: number) => Math.round((n / 1048576) * 10) / 10;
    const ms = (ns: number) => Math.round(ns / 1e4) / 100;
    const lagMs = (ns: number) => Math.max(0, ms(ns) - LAG_RESOLUTION_MS);
    const body: Record<string, unknown> = {
      status: deps.drain.draining ? 'draining' : report.ready ? 'ok' : 'not_ready',
      version: VERSION,
      node: process.version,
      uptimeSeconds: Math.round(process.uptime()),
      draining: deps.drain.draining,
      checks: report.checks,
      memoryMB: { rss: mb(memory.rss), heapUsed: mb(memory.heapUsed), heapTotal: mb(memory.heapTotal), external: mb(memory.external) },
      cpuSeconds: { user: cpu.user / 1e6, system: cpu.system / 1e6 },
      eventLoopLagMs: { p50: lagMs(lag.percentile(50)), p99: lagMs(lag.percentile(99)), max: lagMs(lag.max) },
    };
    for (const section of deps.sections) Object.assign(body, section());
    sendJson(res, 200, body);
  });
}
