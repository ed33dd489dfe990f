import { describe, expect, it } from 'vitest';
import { HistogramFamily, ValueFamily } from '../../src/telemetry/metric-family.js';
import { egressMetrics } from '../../src/egress/egress-metrics.js';
import { RateLimitHits } from '../../src/telemetry/rate-limit-metrics.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { negotiateFormat } from '../../src/admin/metrics-route.js';
import { parseExposition, find } from '../helpers/prometheus.js';

const sink = () => {
  const seen: string[] = [];
  return { seen, overflowed: (f: string) => seen.push(f) };
};

describe('histogram family', () => {
  it('renders cumulative buckets, sum and count in Prometheus text', () => {
    const h = new HistogramFamily('x_seconds', 'help', ['a'], [0.1, 1], 10);
    const s = h.child(['v"\\\n']);
    s.observe(0.05);
    s.observe(0.1);
    s.observe(0.5);
    s.observe(3);
    expect(h.render('text')).toBe(
      [
        '# HELP x_seconds help',
        '# TYPE x_seconds histogram',
        'x_seconds_bucket{a="v\\"\\\\\\n",le="0.1"} 2',
        'x_seconds_bucket{a="v\\"\\\\\\n",le="1"} 3',
        'x_seconds_bucket{a="v\\"\\\\\\n",le="+Inf"} 4',
        'x_seconds_sum{a="v\\"\\\\\\n"} 3.65',
        'x_seconds_count{a="v\\"\\\\\\n"} 4',
        '',
      ].join('\n'),
    );
  });

  it('writes the last sampled trace of each bucket as an OpenMetrics exemplar, and only in OpenMetrics', () => {
    const h = new HistogramFamily('x_seconds', 'help', [], [0.1, 1], 10);
    const s = h.child([]);
    s.observeWithTrace(0.05, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');
    s.observeWithTrace(0.07, 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb');
    s.observe(0.5);
    const om = h.render('openmetrics');
    expect(om).toMatch(/^x_seconds_bucket\{le="0\.1"\} 2 # \{trace_id="b{32}"\} 0\.07 \d+\.\d{3}$/m);
    expect(om).toMatch(/^x_seconds_bucket\{le="1"\} 3$/m);
    const samples = parseExposition(om);
    expect(find(samples, 'x_seconds_bucket', { le: '0.1' })[0].exemplar!.labels).toEqual({ trace_id: 'b'.repeat(32) });
    expect(h.render('text')).not.toContain('# {');
    expect(h.render('text')).not.toContain('trace_id');
  });

  it('folds new label sets past the cap into one overflow series, counting each folded lookup', () => {
    const overflow = sink();
    const h = new HistogramFamily('x_seconds', 'help', ['a'], [1], 2, overflow);
    h.child(['1']).observe(0.5);
    h.child(['2']).observe(0.5);
    const third = h.child(['3']);
    expect(third.overflow).toBe(true);
    third.observe(0.5);
    expect(h.child(['4'])).toBe(third);
    expect(h.child(['1']).overflow).toBe(false);
    expect(overflow.seen).toEqual(['x_seconds', 'x_seconds']);
    expect(h.seriesCount).toBe(3);
    expect(h.render('text')).toContain('x_seconds_count{otel_metric_overflow="true"} 1');
  });
});

describe('value family', () => {
  it('names counter families without _total in OpenMetrics, with it in Prometheus text', () => {
    const c = new ValueFamily('counter', 'x_total', 'help', ['a'], 10);
    c.child(['b']).value = 2;
    expect(c.render('text')).toBe('# HELP x_total help\n# TYPE x_total counter\nx_total{a="b"} 2\n');
    expect(c.render('openmetrics')).toBe('# HELP x help\n# TYPE x counter\nx_total{a="b"} 2\n');
  });

  it('refuses a counter name without _total', () => {
    expect(() => new ValueFamily('counter', 'x', 'help', [], 10)).toThrow(/_total/);
  });
});

describe('sidelight metrics', () => {
  it('records breaker, retry and bulkhead events from the egress observer', async () => {
    const m = new Metrics({ maxSeries: 100 });
    const egress = egressMetrics(m, new RateLimitHits(m));
    egress.declareUpstream('stripe');
    egress.breakerStateChanged('stripe', 'open');
    egress.breakerRejected('stripe');
    egress.breakerStateChanged('stripe', 'half_open');
    egress.retried('stripe', 'status_503');
    egress.bulkheadRejected('stripe');
    egress.retryBudgetExhausted('stripe');
    const samples = parseExposition(await m.render('text'));
    const v = (name: string, labels: Record<string, string>) => find(samples, name, labels)[0]?.value;
    expect(v('sidelight_circuit_breaker_state', { upstream: 'stripe' })).toBe(2);
    expect(v('sidelight_circuit_breaker_transitions_total', { upstream: 'stripe', to: 'open' })).toBe(1);
    expect(v('sidelight_circuit_breaker_transitions_total', { upstream: 'stripe', to: 'half_open' })).toBe(1);
    expect(v('sidelight_circuit_breaker_rejections_total', { upstream: 'stripe' })).toBe(1);
    expect(v('sidelight_upstream_retries_total', { upstream: 'stripe', reason: 'status_503' })).toBe(1);
    expect(v('sidelight_upstream_bulkhead_rejections_total', { upstream: 'stripe' })).toBe(1);
    expect(v('sidelight_upstream_retry_budget_exhausted_total', { upstream: 'stripe' })).toBe(1);
  });

  it('leaves out the default gauges that promtool rejects, in both formats', async () => {
    const m = new Metrics({ maxSeries: 100 });
    for (const format of ['text', 'openmetrics'] as const) {
      const out = await m.render(format);
      expect(out).toContain('process_cpu_user_seconds');
      expect(out).not.toMatch(/nodejs_active_(handles|requests|resources)_total/);
    }
    // OpenMetrics rendering must not rename anything the text format shows afterwards.
    expect(await m.render('text')).toContain('# TYPE process_cpu_user_seconds_total counter');
    expect((await m.render('openmetrics')).endsWith('# EOF\n')).toBe(true);
  });
});

describe('content negotiation', () => {
  const req = (accept?: string) => ({ headers: accept === undefined ? {} : { accept } }) as never;
  it('serves OpenMetrics only when asked for it', () => {
    expect(negotiateFormat(req())).toBe('text');
    expect(negotiateFormat(req('text/plain'))).toBe('text');
    expect(negotiateFormat(req('application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5'))).toBe('openmetrics');
    expect(negotiateFormat(req('application/openmetrics-text; version=0.0.1; q=0.75, text/plain; q=0.5'))).toBe('openmetrics');
    expect(negotiateFormat(req('application/openmetrics-text;q=0, text/plain'))).toBe('text');
  });
});
