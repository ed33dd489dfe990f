// The live view's own figures, read from the hub at scrape time: clients, lines sent, lines a
// client did not get (over its rate, or its socket could not keep up) and clients turned away.
import type { MetricRegistry } from '../telemetry/metric-registry.js';
import type { TapHub } from './hub.js';

export function watchTap(registry: MetricRegistry, tap: TapHub): void {
  const clients = registry.gauge('sidelight_tap_clients', 'Clients connected to GET /tap now.').child([]);
  const lines = registry.counter('sidelight_tap_lines_total', 'Lines sent to tap clients.').child([]);
  const dropped = registry.counter(
    'sidelight_tap_dropped_lines_total',
    'Lines a tap client did not get: over admin.tap.maxLinesPerSecond (rate) or its socket could not keep up (slow).',
    ['reason'],
  );
  const rate = dropped.child(['rate']);
  const slow = dropped.child(['slow']);
  const rejected = registry.counter('sidelight_tap_rejected_clients_total', 'Tap clients turned away because admin.tap.maxClients were connected.').child([]);
  registry.onScrape(() => {
    clients.value = tap.clients;
    lines.value = tap.counts.lines;
    rate.value = tap.counts.droppedRate;
    slow.value = tap.counts.droppedSlow;
    rejected.value = tap.counts.rejectedClients;
  });
}
