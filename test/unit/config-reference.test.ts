// docs/configuration.md against the code: its key table lists exactly the keys the schema
// (src/config/schema.ts) accepts, each default is what `sidelight check` prints for a config that
// sets nothing, and its example passes `check`. A key added, renamed or given another default
// fails here until the page follows.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { runCli } from '../helpers/sidelight.js';

const PAGE = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
/** the names the page uses for a record's keys (`egress.upstreams.NAME.url`) */
const ANY = 'NAME';
const PLACEHOLDERS: Record<string, string> = { 'ingress.routeTimeouts': 'ROUTE' };

interface Def {
  type: string;
  shape?: Record<string, { _zod: { def: Def } }>;
  innerType?: { _zod: { def: Def } };
  valueType?: { _zod: { def: Def } };
  in?: { _zod: { def: Def } };
}

/** Every key a config may hold, as dotted paths: sections are walked, a record is a key and its value's keys under NAME. */
function schemaKeys(def: Def, prefix = ''): string[] {
  if (def.innerType && ['default', 'prefault', 'optional'].includes(def.type)) return schemaKeys(def.innerType._zod.def, prefix);
  // a value checked, then transformed: its keys are the input's
  if (def.type === 'pipe' && def.in) return schemaKeys(def.in._zod.def, prefix);
  if (def.type === 'object' && def.shape) return Object.entries(def.shape).flatMap(([k, v]) => schemaKeys(v._zod.def, prefix ? `${prefix}.${k}` : k));
  if (def.type === 'record' && def.valueType) return [prefix, ...schemaKeys(def.valueType._zod.def, `${prefix}.${PLACEHOLDERS[prefix] ?? ANY}`)];
  return [prefix];
}

/** The key table: key → default cell. */
function documentedKeys(markdown: string): Map<string, string> {
  const keys = new Map<string, string>();
  const lines = markdown.split('\n');
  const header = lines.findIndex((l) => /^\| key \| type \| default \| meaning \|/.test(l));
  for (let i = header + 2; header >= 0 && lines[i]?.startsWith('|'); i++) {
    const cells = lines[i].split(/(?<!\\)\|/).map((c) => c.trim());
    keys.set(cells[1].replace(/`/g, ''), cells[3]);
  }
  return keys;
}

/** Dotted leaf paths of `check`'s output with their values as the page writes them. */
function effectiveLeaves(value: unknown, prefix = ''): Array<[string, string]> {
  if (value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
    return Object.entries(value).flatMap(([k, v]) => effectiveLeaves(v, prefix ? `${prefix}.${k}` : k));
  }
  return [[prefix, typeof value === 'string' ? value : JSON.stringify(value)]];
}

describe('docs/configuration.md', () => {
  const documented = documentedKeys(PAGE);

  it('lists every key the schema accepts, and no other', () => {
    const keys = schemaKeys((configSchema as unknown as { _zod: { def: Def } })._zod.def);
    expect(keys.length).toBeGreaterThan(40);
    expect([...documented.keys()].sort()).toEqual(keys.sort());
  });

  it("gives each key the default `sidelight check` shows for a config that sets nothing", async () => {
    // one upstream with only its url, so the upstream keys show their defaults too
    const { code, stdout, stderr } = await runCli(['check', '--upstream', 'x=https://example.com']);
    expect(code, stderr).toBe(0);
    const effective = JSON.parse(stdout) as { egress: { upstreams: Record<string, unknown> } };
    const { x, ...others } = effective.egress.upstreams;
    expect(others).toEqual({});
    effective.egress.upstreams = { [ANY]: x };
    // derived, not defaults: the page says where they come from
    const derived = new Set(['service', `egress.upstreams.${ANY}.url`, `egress.upstreams.${ANY}.hosts`]);
    const wrong = effectiveLeaves(effective)
      .filter(([key]) => !derived.has(key))
      .filter(([key, value]) => !documented.get(key)?.includes(`\`${value}\``))
      .map(([key, value]) => `${key}: check shows ${value}, the page ${documented.get(key) ?? 'has no row'}`);
    expect(wrong).toEqual([]);
  });

  it('has an example that `sidelight check` accepts', async () => {
    const example = /## An example[\s\S]*?```yaml\n([\s\S]*?)```/.exec(PAGE)?.[1];
    expect(example).toBeDefined();
    const file = join(mkdtempSync(join(tmpdir(), 'sidelight-docs-')), 'sidelight.yaml');
    writeFileSync(file, example!);
    const { code, stderr } = await runCli(['check', '--config', file], { SIDELIGHT_ADMIN_TOKEN: 'secret' });
    expect(code, stderr).toBe(0);
  });
});
