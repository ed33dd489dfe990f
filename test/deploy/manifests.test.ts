// deploy/kubernetes: every manifest validates offline, the kustomize build too (when kubectl is
// installed), the base Deployment is exactly what inject produces, probes hit real sidelight
// endpoints on the real admin port, and the grace period covers the configured drain.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCli, startSidelight, type RunningSidelight } from '../helpers/sidelight.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { hasBinary, KUBECTL, needTool } from '../helpers/tools.js';
import { parseManifests, podSpecs, readManifests, validateObject } from './k8s-models.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const K8S = `${ROOT}deploy/kubernetes/`;
const DIRS = ['base', 'overlays/example'];
const hasKubectl = hasBinary(KUBECTL.binary);

type Container = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** every Kubernetes object in a directory's YAML files (not kustomization.yaml, not sidelight.yaml, not patches) */
function objectsIn(dir: string) {
  return readdirSync(`${K8S}${dir}`)
    .filter((f) => /\.ya?ml$/.test(f) && !['kustomization.yaml', 'sidelight.yaml'].includes(f) && !f.endsWith('-patch.yaml'))
    .flatMap((f) => readManifests(`${K8S}${dir}/${f}`).map((obj) => ({ file: `${dir}/${f}`, obj })));
}

function kustomize(dir: string): string {
  return execFileSync('kubectl', ['kustomize', `${K8S}${dir}`], { encoding: 'utf8' });
}

function sidecarOf(spec: Record<string, unknown>): Container {
  const all = [...((spec.initContainers as Container[]) ?? []), ...((spec.containers as Container[]) ?? [])];
  const found = all.find((c) => c.name === 'sidelight');
  if (!found) throw new Error('no sidelight container');
  return found;
}

function baseDeployment() {
  const found = objectsIn('base').find((o) => o.obj.kind === 'Deployment');
  if (!found) throw new Error('no Deployment in base');
  return found.obj;
}

describe('deploy/kubernetes manifests', () => {
  for (const dir of DIRS) {
    it(`${dir}: every manifest validates against the OpenAPI schemas`, () => {
      const objects = objectsIn(dir);
      expect(objects.length).toBeGreaterThan(0);
      for (const { obj } of objects) validateObject(obj);
    });
  }

  it('the base holds the pieces issue 6 asks for', () => {
    const kinds = objectsIn('base').map((o) => o.obj.kind);
    for (const kind of ['Deployment', 'Service', 'HorizontalPodAutoscaler', 'ServiceMonitor', 'PrometheusRule']) expect(kinds).toContain(kind);
    const hpa = objectsIn('base').find((o) => o.obj.kind === 'HorizontalPodAutoscaler')!.obj as Container;
    expect(hpa.spec.minReplicas).toBe(2);
    expect(hpa.spec.maxReplicas).toBe(10);
    const targets = Object.fromEntries(hpa.spec.metrics.map((m: Container) => [m.resource.name, m.resource.target.averageUtilization]));
    expect(targets).toEqual({ cpu: 70, memory: 80 });
  });

  for (const dir of DIRS) {
    it(`${dir}: kubectl kustomize output validates (skipped only when kubectl is not installed)`, (ctx) => {
      needTool(ctx, KUBECTL);
      const objects = parseManifests(kustomize(dir));
      const kinds = objects.map((o) => o.kind);
      expect(kinds).toContain('ConfigMap');
      for (const obj of objects) validateObject(obj);
      // The generated ConfigMap (hash-suffixed name) is the one the pod mounts, and holds a valid sidelight.yaml.
      const cm = objects.find((o) => o.kind === 'ConfigMap')! as Container;
      const [spec] = objects.flatMap(podSpecs);
      const volume = (spec.volumes as Container[]).find((v) => v.name === 'sidelight-config')!;
      expect(volume.configMap.name).toBe(cm.metadata.name);
      expect(Object.keys(cm.data)).toEqual(['sidelight.yaml']);
    });
  }

  it('the base Deployment is exactly what `sidelight inject` makes of it (no drift between the two)', async () => {
    const file = `${K8S}base/deployment.yaml`;
    const r = await runCli(['inject', file]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // After changing src/inject (or the version, which is the default image tag), regenerate the
    // base: node dist/cli.js inject deploy/kubernetes/base/deployment.yaml, and review the diff.
    expect(r.stdout, 'deploy/kubernetes/base/deployment.yaml is not what inject makes of it').toBe(readFileSync(file, 'utf8'));
    const sidecar = sidecarOf(podSpecs(baseDeployment())[0]);
    expect(sidecar.restartPolicy).toBe('Always');
    expect(sidecar.env.map((e: Container) => e.name)).toEqual(expect.arrayContaining(['POD_NAME', 'POD_NAMESPACE', 'NODE_NAME', 'SIDELIGHT_ADMIN_TOKEN']));
  });

  it("the sidecar's memory request covers its measured RSS (bench/RESULTS.md): idle and under saturating load", () => {
    const results = readFileSync(`${ROOT}bench/RESULTS.md`, 'utf8');
    const idle = Number(/RSS after \d+ s idle[^:]*: sidelight \d+ ms, ([\d.]+) MB/.exec(results)?.[1]);
    const loaded = Number(/^\| sidelight-default \([^)]*\) \| [^|]+\| [^|]+\| [^|]+\| [^|]+\| (\d+) \|/m.exec(results)?.[1]);
    expect(idle, 'the start-up / idle RSS line in bench/RESULTS.md').toBeGreaterThan(0);
    expect(loaded, 'the sidelight-default row in bench/RESULTS.md').toBeGreaterThan(idle);
    // The bench's "MB" are /proc's kB ÷ 1024, the same unit as Kubernetes' Mi.
    const MiB = (q: string) => Number(/^(\d+)Mi$/.exec(q)?.[1]);
    const { requests, limits } = sidecarOf(podSpecs(baseDeployment())[0]).resources;
    expect(MiB(requests.memory)).toBeGreaterThanOrEqual(loaded);
    expect(MiB(limits.memory)).toBeGreaterThanOrEqual(1.5 * loaded);
  });

  it('the Service targets the ingress port and the ServiceMonitor scrapes the admin port', () => {
    const objects = objectsIn('base').map((o) => o.obj as Container);
    const sidecar = sidecarOf(podSpecs(baseDeployment())[0]);
    const portByName = Object.fromEntries(sidecar.ports.map((p: Container) => [p.name, p.containerPort]));
    const svc = objects.find((o) => o.kind === 'Service')!;
    const http = svc.spec.ports.find((p: Container) => p.name === 'http');
    expect(portByName[http.targetPort]).toBe(15080);
    const monitor = objects.find((o) => o.kind === 'ServiceMonitor')!;
    const endpoint = monitor.spec.endpoints[0];
    const admin = svc.spec.ports.find((p: Container) => p.name === endpoint.port);
    expect(portByName[admin.targetPort]).toBe(15090);
    expect(endpoint.path).toBe('/metrics');
    expect(monitor.spec.selector.matchLabels).toEqual(svc.metadata.labels);
    const annotations = baseDeployment() as Container;
    expect(annotations.spec.template.metadata.annotations['prometheus.io/port']).toBe('15090');
  });

  describe('probes against a running sidelight', () => {
    let app: TestApp;
    let sl: RunningSidelight;
    beforeAll(async () => {
      app = await startTestApp();
      // The base's own config file, with the listeners moved to free loopback ports for the test.
      sl = await startSidelight({ config: `${K8S}base/sidelight.yaml`, args: ['--app', app.url] });
    });
    afterAll(async () => {
      await sl?.stop();
      await app?.close();
    });

    it('the admin port in the manifests is sidelight’s default admin port', async () => {
      const r = await runCli(['check', '--config', `${K8S}base/sidelight.yaml`]);
      expect(r.code).toBe(0);
      const effective = JSON.parse(r.stdout) as { admin: { listen: string }; ingress: { listen: string } };
      expect(effective.admin.listen).toMatch(/:15090$/);
      expect(effective.ingress.listen).toMatch(/:15080$/);
    });

    it('every probe path in the base and the inject output answers on the admin port', async () => {
      const injected = await runCli(['inject', '--classic', `${ROOT}test/golden/inject/pod.input.yaml`]);
      const sidecars = [sidecarOf(podSpecs(baseDeployment())[0]), sidecarOf(parseManifests(injected.stdout).flatMap(podSpecs)[0])];
      for (const sidecar of sidecars) {
        for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
          const { path, port } = sidecar[probe].httpGet;
          expect(port, probe).toBe(15090);
          const res = await fetch(`${sl.admin}${path}`);
          await res.text();
          // 200 now: the app is up; a wrong path would be 404 from the admin router.
          expect(res.status, `${probe} ${path}`).toBe(200);
        }
      }
    });
  });

  it('terminationGracePeriodSeconds covers the app, drain.delay + drain.timeout and the flush', async () => {
    for (const dir of DIRS) {
      const r = await runCli(['check', '--config', `${K8S}${dir}/sidelight.yaml`]);
      expect(r.code, r.stderr).toBe(0);
      const config = parse(readFileSync(`${K8S}${dir}/sidelight.yaml`, 'utf8')) as { drain: { delay: string; timeout: string } };
      const seconds = (d: string) => Number(/^(\d+)s$/.exec(d)![1]);
      // The rendered overlay when kubectl is there (a patch could change the grace period), else the base.
      const deployment = hasKubectl ? parseManifests(kustomize(dir)).find((o) => o.kind === 'Deployment')! : baseDeployment();
      const grace = podSpecs(deployment)[0].terminationGracePeriodSeconds as number;
      const appShutdown = 10;
      const flush = 5;
      expect(grace, dir).toBeGreaterThanOrEqual(appShutdown + seconds(config.drain.delay) + seconds(config.drain.timeout) + flush);
    }
  });
});
