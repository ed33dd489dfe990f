// The PrometheusRule in deploy/kubernetes carries exactly the alert rules that the metrics work
// keeps (and promtool tests) in deploy/prometheus/rules/sidelight.rules.yml.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readManifests, validateObject } from './k8s-models.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RULES = `${ROOT}deploy/prometheus/rules/sidelight.rules.yml`;
const RESOURCE = `${ROOT}deploy/kubernetes/base/prometheusrule.yaml`;

describe('PrometheusRule', () => {
  it('has the same groups as deploy/prometheus/rules/sidelight.rules.yml and validates', () => {
    const rules = parse(readFileSync(RULES, 'utf8')) as { groups: unknown[] };
    const [resource] = readManifests(RESOURCE) as Array<{ kind: string; spec: { groups: unknown[] } }>;
    expect(resource.kind).toBe('PrometheusRule');
    expect(rules.groups.length).toBeGreaterThan(0);
    expect(resource.spec.groups).toEqual(rules.groups);
    validateObject(resource as unknown as Record<string, unknown>);
  });

  it('is byte-for-byte what scripts/build-prometheus-rule.mjs generates', () => {
    // --check exits 1 (and execFileSync throws) when the committed file is stale.
    execFileSync(process.execPath, [`${ROOT}scripts/build-prometheus-rule.mjs`, '--check'], { stdio: 'pipe' });
  });
});
