// GET /stats' tunnel rows: per upstream, the egress CONNECT tunnels open now and, over the last
// 10 s and 1 min, how many opened, the share established, and the bytes per second each way.
// Sampled once a second from the tunnel metrics' own totals (src/egress/tunnel-metrics.ts), as
// the request rows are from the duration histograms: nothing runs per tunnel or per byte.
import type { TunnelTotals } from '../egress/tunnel-metrics.js';
import { MAX_WINDOW_SECONDS, SampledRow, type WindowCounts } from './sampled-row.js';

export interface TunnelTotalsSource {
  totals(): TunnelTotals[];
}

export interface TunnelWindow {
  seconds: number;
  /** tunnels whose open was decided in the window, established or not */
  opened: number;
  /** opens per second */
  rate: number | null;
  /** established / opened; null when none opened */
  establishedRatio: number | null;
  sentBytesPerSecond: number | null;
  receivedBytesPerSecond: number | null;
}

export interface TunnelStatsRow {
  upstream: string;
  open: number;
  '10s': TunnelWindow;
  '1m': TunnelWindow;
}

// A row's sample: the two byte counters where a request row keeps its buckets, opens as its
// count, opens not established as its errors.
const SENT = 0;
const RECEIVED = 1;

const perSecond = (n: number, seconds: number): number | null => (seconds ? Math.round((n / seconds) * 1000) / 1000 : null);

export class TunnelStats {
  private readonly rows = new Map<string, SampledRow>();

  constructor(private readonly source: TunnelTotalsSource) {}

  sample(): void {
    for (const t of this.source.totals()) {
      let row = this.rows.get(t.upstream);
      if (row === undefined) {
        // Declared at start: before its first sample, every count was zero.
        this.rows.set(t.upstream, (row = new SampledRow(2)));
        row.record({ buckets: new Float64Array(2), count: 0, errors: 0, retries: 0 });
      }
      row.record({ buckets: Float64Array.of(t.bytesSent, t.bytesReceived), count: t.opened, errors: t.opened - t.established, retries: 0 });
    }
  }

  /** every upstream's tunnels open now, and the windows as last sampled */
  report(): TunnelStatsRow[] {
    return this.source.totals().map((t) => {
      const row = this.rows.get(t.upstream);
      return {
        upstream: t.upstream,
        open: t.open,
        '10s': view(row?.window(10)),
        '1m': view(row?.window(MAX_WINDOW_SECONDS)),
      };
    });
  }
}

const NOTHING_SAMPLED: WindowCounts = { buckets: new Float64Array(2), count: 0, errors: 0, retries: 0, seconds: 0 };

function view(w: WindowCounts = NOTHING_SAMPLED): TunnelWindow {
  return {
    seconds: w.seconds,
    opened: w.count,
    rate: perSecond(w.count, w.seconds),
    establishedRatio: w.count ? Math.round(((w.count - w.errors) / w.count) * 10_000) / 10_000 : null,
    sentBytesPerSecond: perSecond(w.buckets[SENT], w.seconds),
    receivedBytesPerSecond: perSecond(w.buckets[RECEIVED], w.seconds),
  };
}
