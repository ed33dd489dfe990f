// Where metric families are created: each family is registered by the statement that creates
// it, in the module whose concern it measures, and rendered in that order on /metrics, followed
// by the overflow counter and prom-client's default process metrics.
import type { Registry, RegistryContentType } from 'prom-client';
import { HistogramFamily, ValueFamily, type Format, type OverflowSink } from './metric-family.js';

/** prom-client's Registry.PROMETHEUS_CONTENT_TYPE and OPENMETRICS_CONTENT_TYPE */
export const CONTENT_TYPE: Record<Format, string> = {
  text: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
};

/** the fixed cap of families whose labels the config bounds (upstreams × a fixed vocabulary) */
const CONFIG_BOUNDED_SERIES = 10_000;

/** prom-client's default gauges whose names end in _total, which `promtool check metrics` rejects */
const LINT_FAILING_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export class MetricRegistry implements OverflowSink {
  /** series per family whose labels come from traffic, before new label sets fold into the overflow series */
  readonly maxSeries: number;
  /** the series cap of families whose labels the config bounds; a bug is still stopped there */
  readonly boundedSeries: number;
  private readonly families: Array<HistogramFamily | ValueFamily> = [];
  private readonly scrapeReadings: Array<() => void> = [];
  // Not capped by maxSeries: one series per family at most, and it must never fold into itself.
  private readonly overflow = new ValueFamily('counter', 'sidelight_metrics_overflow_total', "Observations folded into a family's overflow series because it reached metrics.maxSeries.", ['metric'], 1000);
  /** default process metrics, one registry per format: prom-client renames counters in place for OpenMetrics */
  private readonly defaults = new Map<Format, Promise<Registry<RegistryContentType>>>();

  constructor(maxSeries: number) {
    this.maxSeries = maxSeries;
    this.boundedSeries = Math.max(maxSeries, CONFIG_BOUNDED_SERIES);
  }

  /** a histogram whose labels come from traffic: capped at maxSeries */
  histogram(name: string, help: string, labels: readonly string[], buckets: readonly number[], maxSeries = this.maxSeries): HistogramFamily {
    return this.add(new HistogramFamily(name, help, labels, buckets, maxSeries, this));
  }

  counter(name: string, help: string, labels: readonly string[] = []): ValueFamily {
    return this.add(new ValueFamily('counter', name, help, labels, this.boundedSeries, this));
  }

  gauge(name: string, help: string, labels: readonly string[] = []): ValueFamily {
    return this.add(new ValueFamily('gauge', name, help, labels, this.boundedSeries, this));
  }

  /** `read` runs at each scrape, before rendering: for values read from elsewhere, never per request */
  onScrape(read: () => void): void {
    this.scrapeReadings.push(read);
  }

  // OverflowSink
  overflowed(family: string): void {
    this.overflow.child([family]).value++;
  }

  /**
   * Starts prom-client's process metrics (event-loop lag, GC, heap, handles). Called once the
   * listeners are up, so loading prom-client does not hold /live back; a scrape before this
   * starts them itself.
   */
  startProcessMetrics(): void {
    void this.defaultRegistry('text');
  }

  async render(format: Format): Promise<string> {
    for (const read of this.scrapeReadings) read();
    let out = '';
    for (const f of this.families) out += f.render(format);
    out += this.overflow.render(format);
    // prom-client's default metrics come last: in OpenMetrics its output carries the closing "# EOF".
    return out + (await (await this.defaultRegistry(format)).metrics());
  }

  private add<F extends HistogramFamily | ValueFamily>(family: F): F {
    this.families.push(family);
    return family;
  }

  private defaultRegistry(format: Format): Promise<Registry<RegistryContentType>> {
    let registry = this.defaults.get(format);
    if (!registry) {
      // prom-client is CommonJS: its exports sit on the namespace's default (named ones exist only outside the bundle).
      registry = import('prom-client').then(({ default: { Registry, collectDefaultMetrics } }) => {
        const r = new Registry<RegistryContentType>();
        r.setContentType(CONTENT_TYPE[format] as RegistryContentType);
        collectDefaultMetrics({ register: r });
        for (const name of LINT_FAILING_DEFAULTS) r.removeSingleMetric(name);
        return r;
      });
      this.defaults.set(format, registry);
    }
    return registry;
  }
}
