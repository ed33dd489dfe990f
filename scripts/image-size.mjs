#!/usr/bin/env node
// What the Dockerfile's runtime stage adds on top of the node base image: production
// node_modules (npm ci --omit=dev) + dist + package.json. Reproduces that stage in a temp dir
// (or --dir DIR, kept for the caller) and measures apparent bytes, like a layer tarball.
// Usage: node scripts/image-size.mjs [--dir DIR] [--json]
import { execFileSync } from 'node:child_process';
import { cpSync, lstatSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
export const BUDGET_MB = 60;

function bytes(path) {
  const st = lstatSync(path);
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const name of readdirSync(path)) total += bytes(join(path, name));
  return total;
}

/** node_modules/<pkg> and node_modules/@scope/<pkg>, nested copies counted with their parent */
function packages(nodeModules) {
  const out = [];
  for (const name of readdirSync(nodeModules)) {
    if (name.startsWith('.')) continue;
    if (name.startsWith('@')) {
      for (const sub of readdirSync(join(nodeModules, name))) out.push({ name: `${name}/${sub}`, bytes: bytes(join(nodeModules, name, sub)) });
    } else out.push({ name, bytes: bytes(join(nodeModules, name)) });
  }
  return out.sort((a, b) => b.bytes - a.bytes);
}

/** the runtime stage's files: package.json + lock, production deps, dist */
export function reproduceRuntimeStage(dir) {
  cpSync(join(root, 'package.json'), join(dir, 'package.json'));
  cpSync(join(root, 'package-lock.json'), join(dir, 'package-lock.json'));
  execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true });
}

export function measure(dir) {
  const nodeModules = bytes(join(dir, 'node_modules'));
  const dist = bytes(join(dir, 'dist'));
  const total = nodeModules + dist + bytes(join(dir, 'package.json'));
  const mb = (n) => Math.round(n / 1e5) / 10;
  return {
    totalMB: mb(total),
    nodeModulesMB: mb(nodeModules),
    distMB: mb(dist),
    budgetMB: BUDGET_MB,
    withinBudget: total <= BUDGET_MB * 1e6,
    packageCount: packages(join(dir, 'node_modules')).length,
    biggest: packages(join(dir, 'node_modules')).slice(0, 12).map((p) => ({ name: p.name, MB: mb(p.bytes) })),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--dir');
  const keep = i > 0 ? process.argv[i + 1] : undefined;
  const dir = keep ?? mkdtempSync(join(tmpdir(), 'sidelight-image-'));
  try {
    reproduceRuntimeStage(dir);
    const result = measure(dir);
    if (process.argv.includes('--json')) console.log(JSON.stringify(result));
    else {
      console.log(`runtime stage adds ${result.totalMB} MB (node_modules ${result.nodeModulesMB} MB, dist ${result.distMB} MB); budget ${BUDGET_MB} MB: ${result.withinBudget ? 'within' : 'OVER'}`);
      for (const p of result.biggest) console.log(`  ${String(p.MB).padStart(6)} MB  ${p.name}`);
    }
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}
