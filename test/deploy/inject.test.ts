// `sidelight inject` through the built CLI: golden output per kind, schema validity, idempotency,
// --classic, and one clear exit-2 error for input it cannot handle.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/sidelight.js';
import { parseManifests, podSpecs, validateObject } from './k8s-models.js';

const GOLDEN = fileURLToPath(new URL('../golden/inject/', import.meta.url));
const KINDS = ['deployment', 'statefulset', 'daemonset', 'job', 'cronjob', 'pod'];
const ARGS = ['--image', 'registry.example.com/sidelight:0.1.0'];

/** Compares with the golden file; UPDATE_GOLDEN=1 rewrites it (review the diff before committing). */
function expectGolden(name: string, actual: string): void {
  const file = `${GOLDEN}${name}`;
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, actual);
  expect(actual).toBe(readFileSync(file, 'utf8'));
}

async function injectFile(input: string, extra: string[] = []) {
  const r = await runCli(['inject', ...ARGS, ...extra, `${GOLDEN}${input}`]);
  expect(r.stderr.replace(/^sidelight inject: .*\n/gm, ''), r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r;
}

describe('sidelight inject', () => {
  for (const kind of KINDS) {
    it(`adds a native sidecar to a ${kind}: golden output, valid against the schema`, async () => {
      const { stdout } = await injectFile(`${kind}.input.yaml`);
      expectGolden(`${kind}.native.yaml`, stdout);
      const objects = parseManifests(stdout);
      for (const obj of objects) validateObject(obj);
      const specs = objects.flatMap(podSpecs);
      expect(specs).toHaveLength(1);
      const sidecar = (specs[0].initContainers as Array<Record<string, unknown>>).find((c) => c.name === 'sidelight');
      expect(sidecar?.restartPolicy).toBe('Always');
      expect((specs[0].containers as Array<{ name: string }>).map((c) => c.name)).not.toContain('sidelight');
    });
  }

  it('--classic adds a regular container with the preStop that calls POST /drain', async () => {
    const { stdout } = await injectFile('deployment.input.yaml', ['--classic', '--app-port', '3000', '--config-map', 'checkout-sidelight']);
    expectGolden('deployment.classic.yaml', stdout);
    const objects = parseManifests(stdout);
    for (const obj of objects) validateObject(obj);
    const [spec] = objects.flatMap(podSpecs);
    expect(spec.initContainers).toBeUndefined();
    const sidecar = (spec.containers as Array<Record<string, any>>).find((c) => c.name === 'sidelight'); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(sidecar?.restartPolicy).toBeUndefined();
    expect(sidecar?.lifecycle.preStop.exec.command.join(' ')).toContain("path: '/drain', method: 'POST'");
    expect((spec.volumes as Array<Record<string, any>>).find((v) => v.name === 'sidelight-config')?.configMap.name).toBe('checkout-sidelight'); // eslint-disable-line @typescript-eslint/no-explicit-any
  });

  it('the classic preStop script is valid JavaScript', async () => {
    const { stdout } = await injectFile('pod.input.yaml', ['--classic']);
    const [spec] = parseManifests(stdout).flatMap(podSpecs);
    const sidecar = (spec.containers as Array<Record<string, any>>).find((c) => c.name === 'sidelight'); // eslint-disable-line @typescript-eslint/no-explicit-any
    const script = sidecar?.lifecycle.preStop.exec.command[2] as string;
    expect(() => new Function('require', 'process', script)).not.toThrow();
  });

  it('is idempotent: injecting the output again changes no byte, native or classic', async () => {
    // Every kind in one multi-document stream: two runs per variant instead of two per kind.
    const all = KINDS.map((kind) => readFileSync(`${GOLDEN}${kind}.input.yaml`, 'utf8')).join('---\n');
    for (const extra of [[], ['--classic']]) {
      const once = await runCli(['inject', ...ARGS, ...extra, '-'], {}, all);
      expect(once.code, once.stderr).toBe(0);
      expect(parseManifests(once.stdout).flatMap(podSpecs)).toHaveLength(KINDS.length);
      const twice = await runCli(['inject', ...ARGS, ...extra, '-'], {}, once.stdout);
      expect(twice.code).toBe(0);
      expect(twice.stdout, extra.join(' ')).toBe(once.stdout);
      expect(twice.stdout).not.toBe(all);
    }
  });

  it('leaves untouched documents byte for byte, comments included', async () => {
    const input = readFileSync(`${GOLDEN}deployment.input.yaml`, 'utf8');
    const { stdout } = await injectFile('deployment.input.yaml');
    const service = input.slice(0, input.indexOf('---\n'));
    expect(stdout.startsWith(service)).toBe(true);
    expect(stdout).toContain('  name: checkout   # untouched by inject');
    expect(stdout).toContain('- name: app # the app container');
  });

  it('points SIDELIGHT_APP at the app container port, or --app-port, and keeps a longer grace period', async () => {
    const { stdout } = await injectFile('deployment.input.yaml');
    const [spec] = parseManifests(stdout).flatMap(podSpecs);
    const env = (spec.initContainers as Array<{ env: Array<{ name: string; value?: string }> }>)[0].env;
    expect(env.find((e) => e.name === 'SIDELIGHT_APP')?.value).toBe('http://127.0.0.1:3000');
    expect(spec.terminationGracePeriodSeconds).toBe(60);
    const flagged = await injectFile('deployment.input.yaml', ['--app-port', '9999']);
    expect(flagged.stdout).toContain('value: http://127.0.0.1:9999');
  });

  it('a gRPC app: h2c:// when its port is named grpc or has appProtocol grpc, or with --app-protocol h2c', async () => {
    const input = readFileSync(`${GOLDEN}deployment.input.yaml`, 'utf8');
    const named = input.replace(/containerPort: 3000/, 'containerPort: 3000\n              name: grpc-api');
    expect(named).not.toBe(input);
    const file = join(mkdtempSync(join(tmpdir(), 'sidelight-inject-')), 'grpc.yaml');
    writeFileSync(file, named);
    const r = await runCli(['inject', ...ARGS, file]);
    expect(r.stdout).toContain('value: h2c://127.0.0.1:3000');
    const flagged = await injectFile('deployment.input.yaml', ['--app-protocol', 'h2c']);
    expect(flagged.stdout).toContain('value: h2c://127.0.0.1:3000');
    const wrong = await runCli(['inject', ...ARGS, '--app-protocol', 'grpc', `${GOLDEN}deployment.input.yaml`]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('--app-protocol: "grpc" is not http or h2c');
  });

  it('says when a Service in the input still bypasses sidelight', async () => {
    const r = await injectFile('deployment.input.yaml');
    expect(r.stderr).toMatch(/Service checkout sends port 80 straight to the app \(targetPort 3000\)/);
  });

  it('reads stdin and keeps a List of workloads a List', async () => {
    const list = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [parseManifests(readFileSync(`${GOLDEN}pod.input.yaml`, 'utf8'))[0]] });
    const r = await runCli(['inject', '-'], {}, list);
    expect(r.code).toBe(0);
    const [obj] = parseManifests(r.stdout);
    expect(obj.kind).toBe('List');
    validateObject((obj.items as Array<Record<string, unknown>>)[0]);
  });

  const bad: Array<[string, string, RegExp]> = [
    ['plain text', 'hello world\n', /document 1 is not a Kubernetes object/],
    ['broken YAML', 'apiVersion: v1\nkind: [Pod\n', /document 1 is not valid YAML/],
    ['empty input', '', /the input is empty/],
    ['YAML with no kind', 'name: x\nreplicas: 2\n', /not a Kubernetes object/],
    ['objects without a pod template', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n', /no pod template found/],
    ['a Deployment with no containers', 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {template: {spec: {}}}\n', /Deployment x\) has no pod template with containers/],
    ['an app already on an admin port', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a, image: a, ports: [{containerPort: 15090}]}]\n', /already uses port 15090/],
  ];
  for (const [what, input, message] of bad) {
    it(`exits 2 with one clear message on ${what}`, async () => {
      const r = await runCli(['inject', '-'], {}, input);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  }

  it('exits 2 on bad options and a missing file', async () => {
    for (const [args, message] of [
      [['--app-port', '0'], /--app-port: "0" is not a port/],
      [['--config-map', 'Bad_Name'], /--config-map: "Bad_Name" is not a valid ConfigMap name/],
      [['/nonexistent/deploy.yaml'], /cannot read "\/nonexistent\/deploy.yaml": ENOENT/],
    ] as Array<[string[], RegExp]>) {
      const r = await runCli(['inject', ...args, ...(args[0].startsWith('/') ? [] : [`${GOLDEN}pod.input.yaml`])]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });
});
