// `npm ci` is quiet for a newcomer: no EBADENGINE for any locked package, and every install
// script decided in package.json's allowScripts (npm 11 otherwise lists them as "not yet covered").
// Read from package-lock.json, which records each package's engines and install scripts.
import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

interface Locked {
  version?: string;
  dev?: boolean;
  engines?: { node?: string };
  hasInstallScript?: boolean;
}

const read = <T>(file: string) => JSON.parse(readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8')) as T;
const pkg = read<{ engines: { node: string }; allowScripts?: Record<string, boolean> }>('package.json');
const locked = Object.entries(read<{ packages: Record<string, Locked> }>('package-lock.json').packages)
  .filter(([path]) => path !== '')
  .map(([path, p]) => ({ name: path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length), ...p }));

const refusing = (node: string, packages: typeof locked) =>
  packages.filter((p) => p.engines?.node && !semver.satisfies(node, p.engines.node, { includePrerelease: true })).map((p) => `${p.name}@${p.version} (node ${p.engines!.node})`);

describe('npm ci', () => {
  it('the runtime dependencies accept every Node version package.json engines allows', () => {
    const runtime = locked.filter((p) => !p.dev && p.engines?.node);
    expect(runtime.filter((p) => !semver.subset(pkg.engines.node, p.engines!.node!)).map((p) => `${p.name}@${p.version} (node ${p.engines!.node})`)).toEqual([]);
  });

  it('every locked package, dev tools included, accepts the Node running the tests', () => {
    expect(refusing(process.versions.node, locked)).toEqual([]);
  });

  it('every package with an install script is approved or denied in allowScripts', () => {
    const undecided = locked.filter((p) => p.hasInstallScript && pkg.allowScripts?.[p.name] === undefined).map((p) => `${p.name}@${p.version}`);
    expect(undecided).toEqual([]);
  });
});
