// The source tree's floors: nothing imports from a floor above its own, and no module imports
// itself back through others. A newcomer reads the tree bottom up; an upward import would make
// a low module depend on what is composed on top of it.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** lowest first; a module may import from its own floor and any floor below */
const FLOORS: ReadonlyArray<readonly string[]> = [
  ['version.ts', 'net/', 'errors.ts', 'types/'],
  ['config/', 'inject/'],
  ['proxy/'],
  ['telemetry/'],
  ['lifecycle/', 'tap/'],
  ['egress/', 'ingress/'],
  ['layers/'],
  ['stats/', 'admin/'],
  ['cli/', 'sidecar.ts'],
  ['cli.ts'],
];

function floorOf(file: string): number {
  const i = FLOORS.findIndex((prefixes) => prefixes.some((p) => file === p || (p.endsWith('/') && file.startsWith(p))));
  if (i === -1) throw new Error(`${file} is on no floor: add its folder to FLOORS`);
  return i;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** relative imports of each source file, as paths under src/ */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const abs of sources(SRC)) {
    const text = readFileSync(abs, 'utf8');
    const deps = [...text.matchAll(/(?:from\s+|import\(\s*)'(\.{1,2}\/[^']+\.js)'/g)].map((m) => relative(SRC, resolve(dirname(abs), m[1])).replace(/\.js$/, '.ts'));
    graph.set(relative(SRC, abs), deps);
  }
  return graph;
}

describe('source layering', () => {
  const graph = importGraph();

  it('has no import from a lower floor to a higher one', () => {
    const upward: string[] = [];
    for (const [file, deps] of graph) for (const dep of deps) if (floorOf(dep) > floorOf(file)) upward.push(`${file} → ${dep}`);
    expect(upward).toEqual([]);
  });

  it('has no import cycle', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, trail: string[]): void => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(file)), file].join(' → '));
        return;
      }
      state.set(file, 'open');
      for (const dep of graph.get(file) ?? []) visit(dep, [...trail, file]);
      state.set(file, 'done');
    };
    for (const file of graph.keys()) visit(file, []);
    expect(cycles).toEqual([]);
  });

  it('finds every imported file', () => {
    const missing = [...graph].flatMap(([file, deps]) => deps.filter((d) => !graph.has(d)).map((d) => `${file} → ${d}`));
    expect(missing).toEqual([]);
  });
});
