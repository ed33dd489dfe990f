// deploy/compose: the file parses, every bind-mounted file exists, and the ports line up —
// Prometheus scrapes sidelight's admin port, sidelight's OTLP endpoint is Jaeger's OTLP port,
// sidelight's app and egress addresses are where the demo app listens and calls.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCli } from '../helpers/sidelight.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIR = `${ROOT}deploy/compose/`;

type Service = {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  network_mode?: string;
  depends_on?: string[];
};
const compose = parse(readFileSync(`${DIR}docker-compose.yaml`, 'utf8')) as { services: Record<string, Service> };
const services = compose.services;

const portOf = (address: string) => Number(/:(\d+)$/.exec(address)![1]);
const containerPorts = (s: Service) => (s.ports ?? []).map((p) => Number(p.split(':').pop()));

async function effectiveConfig() {
  const r = await runCli(['check', '--config', `${DIR}sidelight.yaml`]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { admin: { listen: string }; ingress: { listen: string; app: string }; egress: { listen: string; upstreams: Record<string, { url: string }> } };
}

describe('deploy/compose', () => {
  it('has the demo app, sidelight, Prometheus, Jaeger and Grafana', () => {
    for (const name of ['app', 'sidelight', 'prometheus', 'jaeger', 'grafana']) expect(services[name], name).toBeDefined();
    expect(services.sidelight.build).toBe('../..');
    expect(existsSync(resolve(DIR, services.sidelight.build!, 'Dockerfile'))).toBe(true);
    for (const [name, s] of Object.entries(services)) for (const dep of s.depends_on ?? []) expect(services[dep], `${name} depends on ${dep}`).toBeDefined();
  });

  it('every bind-mounted file or directory exists', () => {
    const mounts = Object.entries(services).flatMap(([name, s]) => (s.volumes ?? []).map((v) => ({ name, source: v.split(':')[0] })));
    expect(mounts.length).toBeGreaterThan(4);
    for (const { name, source } of mounts) {
      expect(source.startsWith('.'), `${name}: ${source} is a bind mount`).toBe(true);
      expect(existsSync(resolve(DIR, source)), `${name} mounts ${source}`).toBe(true);
    }
  });

  it('Prometheus scrapes sidelight’s admin port on the service whose network sidelight shares', async () => {
    const config = await effectiveConfig();
    const adminPort = portOf(config.admin.listen);
    const prometheus = parse(readFileSync(`${DIR}prometheus.yml`, 'utf8')) as { scrape_configs: Array<{ metrics_path: string; static_configs: Array<{ targets: string[] }> }> };
    const [job] = prometheus.scrape_configs;
    expect(job.metrics_path).toBe('/metrics');
    const [target] = job.static_configs[0].targets;
    const host = /^service:(.+)$/.exec(services.sidelight.network_mode ?? '')?.[1];
    expect(target).toBe(`${host}:${adminPort}`);
    expect(containerPorts(services[host!])).toEqual(expect.arrayContaining([adminPort, portOf(config.ingress.listen)]));
  });

  it('Prometheus loads rule files that exist in the mounted rules directory', () => {
    const prometheus = parse(readFileSync(`${DIR}prometheus.yml`, 'utf8')) as { rule_files: string[] };
    const mount = services.prometheus.volumes!.map((v) => v.split(':')).find(([, target]) => target === '/etc/prometheus/rules')!;
    expect(prometheus.rule_files.length).toBeGreaterThan(0);
    for (const file of prometheus.rule_files) {
      expect(file.startsWith('/etc/prometheus/rules/'), file).toBe(true);
      expect(existsSync(resolve(DIR, mount[0], file.slice('/etc/prometheus/rules/'.length))), file).toBe(true);
    }
  });

  it('sidelight’s OTLP endpoint is Jaeger’s OTLP/HTTP port', () => {
    const endpoint = new URL(services.sidelight.environment!.OTEL_EXPORTER_OTLP_ENDPOINT);
    expect(services[endpoint.hostname]).toBe(services.jaeger);
    expect(Number(endpoint.port)).toBe(4318);
    expect(containerPorts(services.jaeger)).toEqual(expect.arrayContaining([4318, 16686]));
  });

  it('the demo app listens where sidelight forwards and calls egress where sidelight listens', async () => {
    const config = await effectiveConfig();
    const env = services.app.environment!;
    const demo = readFileSync(`${ROOT}deploy/examples/demo-app.mjs`, 'utf8');
    for (const key of Object.keys(env)) expect(demo, `demo-app.mjs reads ${key}`).toContain(`process.env.${key}`);
    expect(Number(new URL(config.ingress.app).port)).toBe(Number(env.DEMO_APP_PORT));
    expect(portOf(config.egress.listen)).toBe(Number(new URL(env.DEMO_EGRESS).port));
    expect(Number(new URL(config.egress.upstreams.payments.url).port)).toBe(Number(env.DEMO_PAYMENTS_PORT));
    // and the file mounted into the app is the one its command runs
    const [mount] = services.app.volumes!;
    expect(services.app.command).toContain(mount.split(':')[1]);
  });

  it('Grafana’s Prometheus datasource points at the Prometheus service and the dashboard is provisioned', () => {
    const ds = parse(readFileSync(`${DIR}grafana/provisioning/datasources/prometheus.yaml`, 'utf8')) as { datasources: Array<{ type: string; url: string }> };
    const prom = new URL(ds.datasources.find((d) => d.type === 'prometheus')!.url);
    expect(services[prom.hostname]).toBe(services.prometheus);
    expect(containerPorts(services.prometheus)).toContain(Number(prom.port));
    const providers = parse(readFileSync(`${DIR}grafana/provisioning/dashboards/sidelight.yaml`, 'utf8')) as { providers: Array<{ options: { path: string } }> };
    const dashboardMount = services.grafana.volumes!.find((v) => v.includes('sidelight.json'))!;
    expect(dashboardMount.split(':')[1].startsWith(`${providers.providers[0].options.path}/`)).toBe(true);
    JSON.parse(readFileSync(resolve(DIR, dashboardMount.split(':')[0]), 'utf8'));
  });
});
