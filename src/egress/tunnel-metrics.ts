// Egress CONNECT tunnels per upstream, fed by the tunnel observer hooks (src/egress/tunnel.ts):
// opens by outcome, tunnels open now, bytes each way, connect time, lifetime and who closed
// them. Bytes are read from the live tunnels' sockets at scrape time, so a long tunnel shows its
// traffic as it flows and the data path pays nothing per chunk. Labels are fixed small sets.
import type { Tunnel, TunnelObserver } from './tunnel.js';
import type { HistogramFamily, HistogramSeries, ValueFamily, ValueSeries } from '../telemetry/metric-family.js';
import type { MetricRegistry } from '../telemetry/metric-registry.js';
import { DURATION_BUCKETS } from '../telemetry/metrics.js';

/** tunnel lifetimes, seconds: from one short call to a keep-alive connection held for an hour */
const LIFETIME_BUCKETS = [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600];

class UpstreamTunnels {
  readonly active: ValueSeries;
  readonly sent: ValueSeries;
  readonly received: ValueSeries;
  readonly connect: HistogramSeries;
  readonly lifetime: HistogramSeries;
  /** established and not yet ended: their bytes are read at scrape time */
  readonly live = new Set<Tunnel>();
  /** bytes of the tunnels that have ended */
  sentBefore = 0;
  receivedBefore = 0;

  constructor(m: TunnelMetrics, upstream: string) {
    this.active = m.active.child([upstream]);
    this.sent = m.bytes.child([upstream, 'sent']);
    this.received = m.bytes.child([upstream, 'received']);
    this.connect = m.connectDuration.child([upstream]);
    this.lifetime = m.duration.child([upstream]);
  }

  read(): void {
    let sent = this.sentBefore;
    let received = this.receivedBefore;
    for (const t of this.live) {
      sent += t.bytesSent;
      received += t.bytesReceived;
    }
    this.sent.value = sent;
    this.received.value = received;
  }
}

/** One upstream's tunnels as counted since start, for GET /stats. */
export interface TunnelTotals {
  readonly upstream: string;
  /** established and not yet ended */
  readonly open: number;
  /** opens decided, whatever the outcome */
  readonly opened: number;
  readonly established: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
}

export class TunnelMetrics implements TunnelObserver {
  readonly opened: ValueFamily;
  readonly active: ValueFamily;
  readonly bytes: ValueFamily;
  readonly connectDuration: HistogramFamily;
  readonly duration: HistogramFamily;
  readonly closed: ValueFamily;
  private readonly upstreams = new Map<string, UpstreamTunnels>();

  /** Registers the tunnel families: rendered on /metrics with the others. */
  constructor(registry: MetricRegistry) {
    this.opened = registry.counter(
      'sidelight_egress_tunnels_total',
      'CONNECT tunnels to an upstream, by how the open went: established, or why not (connection_refused, timeout, circuit_open, overloaded, …).',
      ['upstream', 'outcome'],
    );
    this.active = registry.gauge('sidelight_egress_tunnels_active', 'CONNECT tunnels open now, per upstream.', ['upstream']);
    this.bytes = registry.counter(
      'sidelight_egress_tunnel_bytes_total',
      'Bytes through CONNECT tunnels: sent (app to upstream) and received (upstream to app), open tunnels included.',
      ['upstream', 'direction'],
    );
    // Labelled by configured upstreams only: the config bounds them.
    this.connectDuration = registry.histogram(
      'sidelight_egress_tunnel_connect_duration_seconds',
      "Time to connect a tunnel to the upstream's address, seconds; failed connects included.",
      ['upstream'],
      DURATION_BUCKETS,
      registry.boundedSeries,
    );
    this.duration = registry.histogram('sidelight_egress_tunnel_duration_seconds', 'Lifetime of established CONNECT tunnels, seconds.', ['upstream'], LIFETIME_BUCKETS, registry.boundedSeries);
    this.closed = registry.counter(
      'sidelight_egress_tunnels_closed_total',
      'Established CONNECT tunnels that ended, by what ended them: client, upstream, idle_timeout (egress.tunnels.idleTimeout) or shutdown (drain.timeout).',
      ['upstream', 'reason'],
    );
    registry.onScrape(() => this.read());
  }

  /** every upstream's series at 0 from the start, so rate() has a baseline */
  declare(upstream: string): void {
    this.of(upstream);
    this.opened.child([upstream, 'established']);
    for (const reason of ['client', 'upstream', 'idle_timeout', 'shutdown']) this.closed.child([upstream, reason]);
  }

  tunnelOpened(t: Tunnel): void {
    const u = this.of(t.upstream.name);
    this.opened.child([t.upstream.name, t.outcome]).value++;
    if (t.connectMs > 0) u.connect.observe(t.connectMs / 1000);
    if (t.outcome !== 'established') return;
    u.active.value++;
    u.live.add(t);
  }

  tunnelEnded(t: Tunnel): void {
    const u = this.of(t.upstream.name);
    if (!u.live.delete(t)) return;
    u.active.value--;
    u.sentBefore += t.bytesSent;
    u.receivedBefore += t.bytesReceived;
    u.lifetime.observe((t.endedAt - t.ex.startedAt) / 1000);
    this.closed.child([t.upstream.name, t.closedBy || 'client']).value++;
  }

  /** every declared upstream's counts now, open tunnels' bytes included */
  totals(): TunnelTotals[] {
    const opened = new Map<string, number>();
    this.opened.forEachSeries((values, s) => {
      if (values) opened.set(values[0], (opened.get(values[0]) ?? 0) + s.value);
    });
    const totals: TunnelTotals[] = [];
    for (const [upstream, u] of this.upstreams) {
      u.read();
      const established = this.opened.child([upstream, 'established']).value;
      totals.push({ upstream, open: u.active.value, opened: opened.get(upstream) ?? 0, established, bytesSent: u.sent.value, bytesReceived: u.received.value });
    }
    return totals;
  }

  private read(): void {
    for (const u of this.upstreams.values()) u.read();
  }

  private of(upstream: string): UpstreamTunnels {
    let u = this.upstreams.get(upstream);
    if (u === undefined) this.upstreams.set(upstream, (u = new UpstreamTunnels(this, upstream)));
    return u;
  }
}
