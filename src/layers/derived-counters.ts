// metrics.counters: Prometheus counters derived from traffic, with no app code (sms_sent_total,
// auth_failures_total, …). Each counts the finished exchanges that match all of its keys: the
// listener, the upstream, the method, the route template and the status. One count per request
// the app or client made (on egress, retries are not requests of their own), so a counter equals
// the matching exchanges exactly. No labels: each is one series, whatever the traffic.
import type { DerivedCounterConfig } from '../config/schema.js';
import type { Exchange } from '../proxy/exchange.js';
import type { Layer } from '../proxy/layer.js';
import type { ValueSeries } from '../telemetry/metric-family.js';
import type { MetricRegistry } from '../telemetry/metric-registry.js';

type Listener = 'ingress' | 'egress';

interface DerivedCounter {
  readonly listener: Listener | undefined;
  readonly upstream: string | undefined;
  readonly method: string | undefined;
  readonly route: string | undefined;
  readonly status: ((status: number) => boolean) | undefined;
  readonly series: ValueSeries;
}

/** 404, "4xx", or a list of them, as a test on a status */
function statusTest(spec: NonNullable<DerivedCounterConfig['status']>): (status: number) => boolean {
  const exact = new Set<number>();
  const classes = new Set<number>();
  for (const s of Array.isArray(spec) ? spec : [spec]) {
    if (typeof s === 'number') exact.add(s);
    else classes.add(Number(s[0]));
  }
  return (status) => exact.has(status) || classes.has(Math.floor(status / 100));
}

/** which listener a counter watches: the one named, else egress when it names an upstream, else both */
function listenerOf(spec: DerivedCounterConfig): Listener | undefined {
  return spec.listener ?? (spec.upstream !== undefined ? 'egress' : undefined);
}

/** The configured counters, registered once; `layerFor` gives each listener its share. */
export class DerivedCounters {
  private readonly counters: DerivedCounter[];

  constructor(registry: MetricRegistry, specs: Record<string, DerivedCounterConfig>) {
    this.counters = Object.entries(specs).map(([name, spec]) => ({
      listener: listenerOf(spec),
      upstream: spec.upstream,
      method: spec.method,
      route: spec.route,
      status: spec.status === undefined ? undefined : statusTest(spec.status),
      series: registry.counter(name, describe(spec)).child([]),
    }));
  }

  /** the layer counting on `listener` (egress: its dedicated listeners too), or undefined when no counter watches it */
  layerFor(listener: Listener): Layer | undefined {
    const counters = this.counters.filter((c) => c.listener === undefined || c.listener === listener);
    if (counters.length === 0) return undefined;
    return {
      name: 'derived-counters',
      onDone(ex) {
        for (let i = 0; i < counters.length; i++) if (matches(counters[i], ex)) counters[i].series.value++;
      },
    };
  }
}

function matches(c: DerivedCounter, ex: Exchange): boolean {
  return (
    (c.upstream === undefined || c.upstream === ex.upstream) &&
    (c.method === undefined || c.method === ex.method) &&
    (c.route === undefined || c.route === ex.route) &&
    (c.status === undefined || c.status(ex.status))
  );
}

/** the HELP text: what the counter counts, from its config */
function describe(spec: DerivedCounterConfig): string {
  const parts = Object.entries(spec).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('|') : String(v)}`);
  return `Requests matching ${parts.join(', ') || 'anything'} (metrics.counters).`;
}
