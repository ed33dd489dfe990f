// deploy/prometheus and deploy/grafana are part of the product: the rules load and pass their
// unit tests in the real promtool, every alert has a test, the scrape examples are valid, and
// the dashboard is importable Grafana JSON whose queries use only metrics sidelight exposes.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { promtool } from '../helpers/prometheus.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const RULES = `${root}deploy/prometheus/rules/sidelight.rules.yml`;
const RULE_TESTS = `${root}deploy/prometheus/rules/sidelight.rules.test.yml`;

interface RuleFile {
  groups: Array<{ name: string; rules: Array<{ alert?: string; record?: string; expr: string }> }>;
}

describe('deploy/prometheus', () => {
  it('passes promtool check rules', (ctx) => {
    const r = promtool(ctx, ['check', 'rules', RULES]);
    expect(r.output).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });

  it('passes promtool test rules', (ctx) => {
    const r = promtool(ctx, ['test', 'rules', RULE_TESTS]);
    expect(r.output).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });

  it('has a firing test for every alert', () => {
    const rules = parse(readFileSync(RULES, 'utf8')) as RuleFile;
    const tests = parse(readFileSync(RULE_TESTS, 'utf8')) as { tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }> };
    const alerts = rules.groups.flatMap((g) => g.rules.filter((r) => r.alert).map((r) => r.alert!));
    expect(alerts.sort()).toEqual(
      ['SidelightCircuitOpen', 'SidelightDrainStuck', 'SidelightGrpcServerErrorRatio', 'SidelightHighErrorRatio', 'SidelightLatencyAnomaly', 'SidelightUpstreamErrorRatio', 'SidelightTunnelOpenFailures', 'SidelightUpstreamLatencyHigh', 'SidelightUpstreamPoolSaturated', 'SidelightUpstreamRateLimited', 'SidelightRateLimitHits'].sort(),
    );
    const firing = new Set(tests.tests.flatMap((t) => (t.alert_rule_test ?? []).filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
    for (const alert of alerts) expect(firing, `no test where ${alert} fires`).toContain(alert);
  });

  it('ships a valid plain scrape config', (ctx) => {
    const r = promtool(ctx, ['check', 'config', `${root}deploy/prometheus/prometheus.yml`]);
    expect(r.output).toContain('is valid prometheus config file syntax');
    expect(r.code).toBe(0);
  });

  it('ships a Kubernetes scrape config that keeps annotated pods and scrapes the annotated port', () => {
    // Debian's promtool is built without Kubernetes discovery, so the shape is checked here.
    const config = parse(readFileSync(`${root}deploy/prometheus/kubernetes-pods.yml`, 'utf8')) as {
      scrape_configs: Array<{ kubernetes_sd_configs: Array<{ role: string }>; relabel_configs: Array<Record<string, unknown>> }>;
    };
    const job = config.scrape_configs[0];
    expect(job.kubernetes_sd_configs).toEqual([{ role: 'pod' }]);
    const relabel = job.relabel_configs;
    expect(relabel).toContainEqual(expect.objectContaining({ source_labels: ['__meta_kubernetes_pod_annotation_prometheus_io_scrape'], action: 'keep', regex: 'true' }));
    const port = relabel.find((r) => (r.source_labels as string[]).includes('__meta_kubernetes_pod_annotation_prometheus_io_port'))!;
    expect(port.target_label).toBe('__address__');
    const [, host, annotated] = new RegExp(`^${port.regex as string}$`).exec('10.1.2.3:8080;15090')!;
    expect(`${host}:${annotated}`).toBe('10.1.2.3:15090');
  });
});

describe('deploy/grafana/sidelight.json', () => {
  const dashboard = JSON.parse(readFileSync(`${root}deploy/grafana/sidelight.json`, 'utf8')) as {
    schemaVersion: number;
    uid: string;
    title: string;
    templating: { list: Array<{ name: string; type: string; query: unknown }> };
    panels: Array<{ type: string; title: string; id: number; datasource?: { uid: string }; targets?: Array<{ expr: string; exemplar: boolean; datasource: { uid: string } }> }>;
  };
  const queries = dashboard.panels.flatMap((p) => p.targets ?? []);

  it('is a dashboard with a schema version and the datasource as a variable', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.uid).toBe('sidelight');
    expect(dashboard.templating.list[0]).toMatchObject({ name: 'datasource', type: 'datasource', query: 'prometheus' });
    for (const p of dashboard.panels.filter((p) => p.type !== 'row')) expect(p.datasource?.uid, p.title).toBe('${datasource}');
    for (const q of queries) expect(q.datasource.uid).toBe('${datasource}');
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
  });

  it('has RED panels for ingress and upstreams, breakers, pools, rate limits, readiness and drain, with exemplars on latency', () => {
    const all = queries.map((q) => q.expr).join('\n');
    for (const metric of ['http_server_request_duration_seconds_count', 'http_client_request_duration_seconds_count', 'sidelight_circuit_breaker_state', 'sidelight_upstream_pool', 'sidelight_ready', 'sidelight_draining', 'sidelight_rate_limit_hits_total', 'sidelight_upstream_rate_limit_queued']) {
      expect(all).toContain(metric);
    }
    const latency = queries.filter((q) => q.expr.includes('_bucket'));
    expect(latency.length).toBeGreaterThanOrEqual(3);
    for (const q of latency) expect(q.exemplar, q.expr).toBe(true);
  });

  it('has a gRPC row: calls, server-error ratio and p99 latency by method, and calls by status name', () => {
    const grpc = dashboard.panels.filter((p) => p.targets?.some((t) => t.expr.includes('rpc_server_call_duration_seconds')));
    const exprs = grpc.flatMap((p) => p.targets!.map((t) => t.expr));
    expect(exprs.some((e) => e.includes('sum by (rpc_method)') && e.includes('error_type!=""'))).toBe(true);
    expect(exprs.some((e) => e.startsWith('histogram_quantile(0.99, sum by (le, rpc_method)'))).toBe(true);
    expect(exprs.some((e) => e.includes('sum by (rpc_status_code, rpc_method)'))).toBe(true);
    for (const t of grpc.flatMap((p) => p.targets!).filter((t) => t.expr.includes('_bucket'))) expect(t.exemplar).toBe(true);
  });

  it('has panels for CONNECT tunnels: open, opened by outcome, closed, bytes and connect time', () => {
    const all = queries.map((q) => q.expr).join('\n');
    for (const metric of ['sidelight_egress_tunnels_active', 'sidelight_egress_tunnels_total', 'sidelight_egress_tunnels_closed_total', 'sidelight_egress_tunnel_bytes_total', 'sidelight_egress_tunnel_connect_duration_seconds_bucket']) {
      expect(all).toContain(metric);
    }
  });
});
