// Metric families with a hard series cap, rendered in Prometheus text or OpenMetrics.
// Not prom-client's Histogram: its observe() validates and hashes the label object on every
// call (several µs per request). Here callers bind a series once per label combination and
// keep it; observing is a bucket scan and three additions, with no allocation.

export type Format = 'text' | 'openmetrics';

/** Where folded observations are counted; the family names itself when it overflows. */
export interface OverflowSink {
  overflowed(family: string): void;
}

/** OpenTelemetry's overflow attribute, as Prometheus names it: the one label of the overflow series. */
const OVERFLOW_LABELS = 'otel_metric_overflow="true"';

export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelText(names: readonly string[], values: readonly string[]): string {
  let out = '';
  for (let i = 0; i < names.length; i++) out += `${i ? ',' : ''}${names[i]}="${escapeLabelValue(values[i])}"`;
  return out;
}

function num(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Number.isNaN(v)) return 'NaN';
  return String(v);
}

abstract class Family<S extends { readonly labels: string; readonly overflow: boolean }> {
  protected readonly series = new Map<string, S>();
  private overflowSeries: S | undefined;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    private readonly maxSeries: number,
    private readonly sink: OverflowSink | undefined,
  ) {}

  protected abstract create(labels: string, overflow: boolean): S;

  /**
   * The series for these label values, created on first use. Beyond maxSeries, new label sets
   * share one overflow series and every such lookup is counted: callers cache only series whose
   * `overflow` is false, so each folded observation comes back here and is counted once.
   */
  child(values: readonly string[]): S {
    const key = values.join('\u0000');
    const found = this.series.get(key);
    if (found) return found;
    if (this.series.size >= this.maxSeries) {
      this.sink?.overflowed(this.name);
      return (this.overflowSeries ??= this.create(OVERFLOW_LABELS, true));
    }
    const s = this.create(labelText(this.labelNames, values), false);
    this.series.set(key, s);
    return s;
  }

  /** Every series with its label values; the overflow series has none (undefined). For readers off the hot path. */
  forEachSeries(fn: (values: readonly string[] | undefined, series: S) => void): void {
    for (const [key, s] of this.series) fn(key.split('\u0000'), s);
    if (this.overflowSeries) fn(undefined, this.overflowSeries);
  }

  get seriesCount(): number {
    return this.series.size + (this.overflowSeries ? 1 : 0);
  }

  protected all(): S[] {
    const list = [...this.series.values()];
    if (this.overflowSeries) list.push(this.overflowSeries);
    return list;
  }

  protected header(format: Format, type: string): string {
    // OpenMetrics names a counter family without its _total suffix; its samples keep it.
    const family = format === 'openmetrics' && type === 'counter' ? this.name.replace(/_total$/, '') : this.name;
    return `# HELP ${family} ${this.help}\n# TYPE ${family} ${type}\n`;
  }

  abstract render(format: Format): string;
}

export class HistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  /** the latest sampled trace per bucket (OpenMetrics exemplars), "" when none */
  readonly exemplarTrace: string[];
  readonly exemplarValue: Float64Array;
  readonly exemplarTime: Float64Array;

  constructor(
    private readonly bounds: Float64Array,
    readonly labels: string,
    readonly overflow: boolean,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
    this.exemplarTrace = new Array<string>(bounds.length + 1).fill('');
    this.exemplarValue = new Float64Array(bounds.length + 1);
    this.exemplarTime = new Float64Array(bounds.length + 1);
  }

  /** seconds; returns the bucket index it landed in */
  observe(value: number): number {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
    return i;
  }

  /** observe and remember the trace as that bucket's exemplar: three stores, no allocation */
  observeWithTrace(value: number, traceId: string): void {
    const i = this.observe(value);
    this.exemplarTrace[i] = traceId;
    this.exemplarValue[i] = value;
    this.exemplarTime[i] = Date.now();
  }
}

export class HistogramFamily extends Family<HistogramSeries> {
  readonly bounds: Float64Array;
  private readonly le: string[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[], maxSeries: number, sink?: OverflowSink) {
    super(name, help, labelNames, maxSeries, sink);
    this.bounds = Float64Array.from(buckets);
    this.le = [...buckets.map(num), '+Inf'];
  }

  protected create(labels: string, overflow: boolean): HistogramSeries {
    return new HistogramSeries(this.bounds, labels, overflow);
  }

  render(format: Format): string {
    let out = this.header(format, 'histogram');
    const om = format === 'openmetrics';
    for (const s of this.all()) {
      const sep = s.labels ? ',' : '';
      let cumulative = 0;
      for (let i = 0; i < this.le.length; i++) {
        cumulative += s.counts[i];
        out += `${this.name}_bucket{${s.labels}${sep}le="${this.le[i]}"} ${cumulative}`;
        if (om && s.exemplarTrace[i]) {
          out += ` # {trace_id="${s.exemplarTrace[i]}"} ${num(s.exemplarValue[i])} ${(s.exemplarTime[i] / 1000).toFixed(3)}`;
        }
        out += '\n';
      }
      const braces = s.labels ? `{${s.labels}}` : '';
      out += `${this.name}_sum${braces} ${num(s.sum)}\n${this.name}_count${braces} ${s.count}\n`;
    }
    return out;
  }
}

export class ValueSeries {
  value = 0;
  constructor(
    readonly labels: string,
    readonly overflow: boolean,
  ) {}
}

/** A counter or a gauge: one number per series. */
export class ValueFamily extends Family<ValueSeries> {
  constructor(
    readonly type: 'counter' | 'gauge',
    name: string,
    help: string,
    labelNames: readonly string[],
    maxSeries: number,
    sink?: OverflowSink,
  ) {
    super(name, help, labelNames, maxSeries, sink);
    if (type === 'counter' && !name.endsWith('_total')) throw new Error(`counter ${name} must end in _total`);
  }

  protected create(labels: string, overflow: boolean): ValueSeries {
    return new ValueSeries(labels, overflow);
  }

  render(format: Format): string {
    let out = this.header(format, this.type);
    for (const s of this.all()) out += `${this.name}${s.labels ? `{${s.labels}}` : ''} ${num(s.value)}\n`;
    return out;
  }
}
