#!/usr/bin/env node
// What the Dockerfile's runtime stage adds on top of the node base image: dist/ (one esbuild bundle
// with every dependency in it; no node_modules). Reproduces that stage in a temp dir (or --dir DIR,
// kept for the caller) and measures apparent bytes, like a layer tarball.
// Usage: node scripts/image-size.mjs [--dir DIR] [--json]
import { cpSync, lstatSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
export const BUDGET_MB = 10;

function bytes(path) {
  const st = lstatSync(path);
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const name of readdirSync(path)) total += bytes(join(path, name));
  return total;
}

/** the runtime stage's files: dist only */
export function reproduceRuntimeStage(dir) {
  cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true });
}

export function measure(dir) {
  const dist = join(dir, 'dist');
  const total = bytes(dist);
  const mb = (n) => Math.round(n / 1e5) / 10;
  const files = [...readdirSync(dist).map((f) => join('dist', f)), ...readdirSync(join(dist, 'chunks')).map((f) => join('dist', 'chunks', f))]
    .filter((f) => !lstatSync(join(dir, f)).isDirectory())
    .map((f) => ({ name: f, bytes: bytes(join(dir, f)) }))
    .sort((a, b) => b.bytes - a.bytes);
  return {
    totalMB: mb(total),
    budgetMB: BUDGET_MB,
    withinBudget: total <= BUDGET_MB * 1e6,
    biggest: files.slice(0, 6).map((f) => ({ name: f.name, KB: Math.round(f.bytes / 1000) })),
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
      console.log(`runtime stage adds ${result.totalMB} MB (dist only); budget ${BUDGET_MB} MB: ${result.withinBudget ? 'within' : 'OVER'}`);
      for (const f of result.biggest) console.log(`  ${String(f.KB).padStart(6)} KB  ${f.name}`);
    }
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}
