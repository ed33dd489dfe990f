// Reading sidelight's /metrics the way Prometheus does, plus the real promtool and prometheus
// binaries: a scrape parser, sample lookup, promtool runs, and a throwaway Prometheus server.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from './http.js';
import type { TestContext } from 'vitest';
import { needTool, PROMTOOL } from './tools.js';

export const OPENMETRICS_ACCEPT = 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  /** OpenMetrics exemplar after " # " */
  exemplar?: { labels: Record<string, string>; value: number; timestamp?: number };
}

export interface Scrape {
  status: number;
  contentType: string;
  text: string;
  samples: Sample[];
}

const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const m of text.matchAll(LABEL)) labels[m[1]] = m[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
  return labels;
}

function parseValue(v: string): number {
  if (v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  return Number(v);
}

/** Parses Prometheus text or OpenMetrics into samples (enough of the grammar for sidelight's output). */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)(?:\s+(\S+))?(?:\s+#\s+(\{[^}]*\})\s+(\S+)(?:\s+(\S+))?)?\s*$/.exec(line);
    if (!m) throw new Error(`unparsable exposition line: ${line}`);
    const sample: Sample = { name: m[1], labels: m[2] ? parseLabels(m[2]) : {}, value: parseValue(m[3]) };
    if (m[5]) sample.exemplar = { labels: parseLabels(m[5]), value: parseValue(m[6]), timestamp: m[7] ? Number(m[7]) : undefined };
    samples.push(sample);
  }
  return samples;
}

export async function scrape(admin: string, options: { openmetrics?: boolean } = {}): Promise<Scrape> {
  const res = await fetch(`${admin}/metrics`, { headers: options.openmetrics ? { accept: OPENMETRICS_ACCEPT } : {} });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text, samples: res.ok ? parseExposition(text) : [] };
}

/** Samples named `name` whose labels include every pair in `labels`. */
export function find(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The value of the one sample matching exactly (0 when absent, as PromQL would treat a missing counter). */
export function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = find(samples, name, labels);
  if (found.length > 1) throw new Error(`${found.length} samples match ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value ?? 0;
}

/** Scrapes until `check` holds: observations land when the exchange closes, just after the client has its answer. */
export async function scrapeUntil(admin: string, check: (samples: Sample[]) => boolean, what: string, options: { openmetrics?: boolean } = {}): Promise<Scrape> {
  let last: Scrape | undefined;
  try {
    return (await until(async () => {
      last = await scrape(admin, options);
      return check(last.samples) ? last : undefined;
    }, 10_000, what)) as Scrape;
  } catch (err) {
    throw new Error(`${(err as Error).message}; last scrape:\n${last?.text.split('\n').filter((l) => l.startsWith('http_') || l.startsWith('sidelight_')).join('\n')}`);
  }
}

/**
 * Runs the real promtool. Without it the test is skipped from here on, saying why (a test calls
 * this after its other assertions), and with CI=true it fails.
 */
export function promtool(ctx: TestContext, args: string[], input?: string): { code: number | null; output: string } {
  needTool(ctx, PROMTOOL);
  const r = spawnSync('promtool', args, { input, encoding: 'utf8' });
  return { code: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface RunningPrometheus {
  url: string;
  /** GET an API path, e.g. /api/v1/rules; returns its data */
  api(path: string): Promise<unknown>;
  /** instant query; returns the result vector */
  query(promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  output(): string;
  stop(): Promise<void>;
}

/** A real Prometheus scraping `targets` (host:port) every second, with its TSDB in a temp dir. */
export async function startPrometheus(targets: string[], options: { ruleFiles?: string[] } = {}): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'sidelight-prometheus-'));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      `rule_files: [${(options.ruleFiles ?? []).map((f) => JSON.stringify(f)).join(', ')}]`,
      'scrape_configs:',
      '  - job_name: sidelight',
      '    scrape_interval: 1s',
      '    static_configs:',
      `      - targets: [${targets.map((t) => `"${t}"`).join(', ')}]`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let output = '';
  const proc: ChildProcess = spawn(
    'prometheus',
    [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--enable-feature=exemplar-storage'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  proc.stdout!.on('data', (d: Buffer) => (output += d));
  proc.stderr!.on('data', (d: Buffer) => (output += d));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await until(async () => {
      if (proc.exitCode !== null) throw new Error(`prometheus exited: ${output}`);
      return (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok;
    }, 20_000, 'prometheus to be ready');
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    output: () => output,
    stop,
    async api(path) {
      const body = (await (await fetch(`${url}${path}`)).json()) as { status: string; error?: string; data: unknown };
      if (body.status !== 'success') throw new Error(`${path} failed: ${body.error}`);
      return body.data;
    },
    async query(promql) {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
      const body = (await res.json()) as { status: string; error?: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
      if (body.status !== 'success') throw new Error(`query ${promql} failed: ${body.error}`);
      return body.data.result;
    },
  };
}
