// npm run bench: every contender in turn against the same upstream and the same load.
//   node bench/run.mjs [--only a,b] [--duration 10] [--connections 50] [--warmup 3]
//                      [--rate 1000] [--rate-duration 5] [--repeat 1] [--profile NAME] [--pin on|off]
// Per row: req/s under wrk (closed loop), CPU µs of the proxy process per request (utime+stime
// from /proc over the measured run ÷ requests), RSS at the end, p50/p99 at a fixed request rate.
// With --repeat N the whole list runs N times, interleaved, and each figure is the median over
// the rounds: on a shared machine, noise from other processes hits rows unevenly otherwise.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { contenders } from './contenders.mjs';
import { startSink, startUpstream } from './fixtures.mjs';
import { cpuSeconds, freePort, has, median, rssMB, startProcess, waitFor200 } from './lib.mjs';
import { measureStartup } from './startup.mjs';

const { values: opts } = parseArgs({
  options: {
    only: { type: 'string' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    warmup: { type: 'string', default: '3' },
    rate: { type: 'string', default: '1000' },
    'rate-duration': { type: 'string', default: '5' },
    repeat: { type: 'string', default: '1' },
    profile: { type: 'string' },
    out: { type: 'string' },
    pin: { type: 'string', default: 'on' },
  },
});
// Pinning: the contender gets core 1 to itself; the bench, wrk, the upstream and the OTLP sink
// share core 0. On a 2-core machine, without it the proxy's CPU per request swung ±20 % between
// identical rounds with the scheduler's placement; a sidecar's CPU limit is often one core anyway.
const pinned = opts.pin !== 'off' && cpus().length >= 2 && has('/usr/bin/taskset');
if (pinned) execFileSync('/usr/bin/taskset', ['-a', '-pc', '0', String(process.pid)], { stdio: 'ignore' });
const CONTENDER_CPU = pinned ? 1 : undefined;
const duration = Number(opts.duration);
const connections = Number(opts.connections);
const only = opts.only?.split(',').map((s) => s.trim());
const WRK = '/usr/bin/wrk';
const tmp = mkdtempSync(join(tmpdir(), 'sidelight-bench-'));
const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));

/** Closed-loop load: wrk when installed, else autocannon. */
async function load(url, seconds) {
  if (has(WRK)) {
    const out = execFileSync(WRK, ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', url], { encoding: 'utf8' });
    const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
    const errors = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) + Number((/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out) ?? []).slice(1).reduce((a, b) => a + Number(b), 0));
    return { requests, rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0), errors, tool: 'wrk' };
  }
  const r = await autocannon({ url, connections, duration: seconds });
  return { requests: r.requests.total, rps: r.requests.average, errors: r.non2xx + r.errors, tool: 'autocannon' };
}

/** Open-loop latency at a fixed rate: what a user sees when the proxy is not saturated. */
async function latencyAt(url, rate, seconds, pid) {
  const before = cpuSeconds(pid);
  const r = await autocannon({ url, connections: 10, overallRate: rate, duration: seconds });
  const cpu = cpuSeconds(pid) - before;
  return { p50: r.latency.p50, p99: r.latency.p99, errors: r.non2xx + r.errors, cpuUsAtRate: (cpu * 1e6) / Math.max(1, r.requests.total) };
}

async function measure(c, ctxBase) {
  const port = await freePort();
  const ctx = { ...ctxBase, port, adminPort: await freePort(), deadPort: await freePort(), nodeArgs: opts.profile === c.name ? ['--cpu-prof', `--cpu-prof-dir=${resultsDir}`] : [] };
  const proc = startProcess({ ...c.start(ctx), cpu: CONTENDER_CPU });
  let detach;
  const url = `http://127.0.0.1:${port}${c.path ?? '/'}`;
  try {
    await waitFor200(url, proc);
    detach = c.attach ? await c.attach(ctx) : undefined;
    await load(url, Number(opts.warmup));
    const before = cpuSeconds(proc.pid);
    const run = await load(url, duration);
    const cpu = cpuSeconds(proc.pid) - before;
    const rss = rssMB(proc.pid);
    const lat = Number(opts.rate) > 0 ? await latencyAt(url, Number(opts.rate), Number(opts['rate-duration']), proc.pid) : { p50: NaN, p99: NaN, errors: 0, cpuUsAtRate: NaN };
    return { name: c.name, note: c.note ?? '', rps: run.rps, cpuUs: (cpu * 1e6) / run.requests, cpuUsAtRate: lat.cpuUsAtRate, rss, p50: lat.p50, p99: lat.p99, errors: run.errors + lat.errors, tool: run.tool };
  } finally {
    detach?.();
    await proc.stop();
  }
}

const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : '–');

function table(rows, floor) {
  const lines = [
    '| contender | req/s | CPU µs/req | × floor | min CPU µs/req | RSS MB | CPU µs/req @rate | p50 ms @rate | p99 ms @rate | errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    const ratio = floor ? r.cpuUs / floor.cpuUs : NaN;
    lines.push(`| ${r.name}${r.note ? ` (${r.note})` : ''} | ${fmt(r.rps)} | ${fmt(r.cpuUs, 1)} | ${fmt(ratio, 2)} | ${fmt(r.cpuMin, 1)} | ${fmt(r.rss)} | ${fmt(r.cpuUsAtRate, 1)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${r.errors} |`);
  }
  return lines.join('\n');
}

function checks(byName, start) {
  const out = [];
  const check = (label, a, b, ok, detail) => {
    if (!a || !b) return out.push(`- [skip] ${label}: needs both rows`);
    out.push(`- [${ok(a, b) ? 'pass' : 'FAIL'}] ${label}: ${detail(a, b)}`);
  };
  const cpuRatio = (label, aName, bName, limit) =>
    check(`${label} ≤ ${limit}×`, byName.get(aName), byName.get(bName), (a, b) => a.cpuUs <= limit * b.cpuUs, (a, b) => `${fmt(a.cpuUs, 1)} vs ${fmt(b.cpuUs, 1)} µs = ${fmt(a.cpuUs / b.cpuUs, 2)}×`);
  const floor = byName.get('floor');
  cpuRatio('default config ÷ floor (CPU/req)', 'sidelight-default', 'floor', 1.25);
  cpuRatio('tracing 1.0 ÷ tracing off (CPU/req)', 'sidelight-trace-1.0', 'sidelight', 1.1);
  cpuRatio('request id + access log ÷ floor (CPU/req)', 'sidelight', 'floor', 1.15);
  cpuRatio('metrics on ÷ off (CPU/req)', 'sidelight-metrics', 'sidelight', 1.05);
  cpuRatio('live view on, no tap client ÷ off (CPU/req)', 'sidelight', 'sidelight-notap', 1.03);
  // The same bars for the least code that does the features' work (bench/least.ts): where these
  // fail, the cost is the features' own, not sidelight's structure.
  cpuRatio('least code, default config ÷ floor (CPU/req)', 'least-default', 'floor', 1.25);
  cpuRatio('least code, tracing 1.0 ÷ tracing off (CPU/req)', 'least-id-log-trace', 'least-id-log', 1.1);
  cpuRatio('least code, request id + access log ÷ floor (CPU/req)', 'least-id-log', 'floor', 1.15);
  check('RSS under load, default config ≤ floor + 10 MB', byName.get('sidelight-default'), floor, (a, b) => a.rss <= b.rss + 10, (a, b) => `${fmt(a.rss)} vs ${fmt(b.rss)} MB = +${fmt(a.rss - b.rss)} MB`);
  check('dead collector costs no more than a live one (CPU ≤ 1.05×, RSS ≤ +5 MB)', byName.get('sidelight-default-dead'), byName.get('sidelight-default'), (a, b) => a.cpuUs <= 1.05 * b.cpuUs && a.rss <= b.rss + 5, (a, b) => `${fmt(a.cpuUs, 1)} vs ${fmt(b.cpuUs, 1)} µs, ${fmt(a.rss)} vs ${fmt(b.rss)} MB`);
  check('req/s ≥ 1.5× @fastify/http-proxy', byName.get('sidelight'), byName.get('@fastify/http-proxy'), (a, b) => a.rps >= 1.5 * b.rps, (a, b) => `${fmt(a.rps)} vs ${fmt(b.rps)} = ${fmt(a.rps / b.rps, 2)}×`);
  if (start) {
    out.push(`- [${start.idleRss <= 60 ? 'pass' : 'FAIL'}] idle RSS after start ≤ 60 MB: ${fmt(start.idleRss, 1)} MB`);
    out.push(`- [${start.startMs <= 200 ? 'pass' : 'FAIL'}] start-up to /live ≤ 200 ms: ${fmt(start.startMs)} ms`);
  }
  return out.join('\n');
}

const selected = contenders.filter((c) => (!only || only.includes(c.name)) && (!c.available || c.available()));
mkdirSync(resultsDir, { recursive: true });
const upstream = await startUpstream(tmp);
const sink = await startSink();
const rounds = new Map(selected.map((c) => [c.name, []]));
const starts = new Map([['node', []], ['sidelight', []]]);
const repeat = Math.max(1, Number(opts.repeat));
try {
  for (let round = 1; round <= repeat; round++) {
    for (const c of selected) {
      process.stderr.write(`bench${repeat > 1 ? ` ${round}/${repeat}` : ''}: ${c.name} … `);
      try {
        const row = await measure(c, { upstream: upstream.url, sinkUrl: sink.url, tmp });
        rounds.get(c.name).push(row);
        process.stderr.write(`${fmt(row.rps)} req/s, ${fmt(row.cpuUs, 1)} µs/req\n`);
      } catch (err) {
        process.stderr.write(`failed: ${err.message}\n`);
      }
    }
    if (!only || only.includes('startup')) {
      for (const kind of ['node', 'sidelight']) {
        const r = await measureStartup(kind, { sinkUrl: sink.url, upstream: upstream.url, cpu: CONTENDER_CPU });
        starts.get(kind).push(r);
        process.stderr.write(`bench${repeat > 1 ? ` ${round}/${repeat}` : ''}: start-up ${kind} ${fmt(r.startMs)} ms (${fmt(r.startCpuMs)} ms CPU), idle ${fmt(r.idleRss, 1)} MB\n`);
      }
    }
  }
} finally {
  await sink.stop();
  await upstream.stop();
}

const rows = [];
for (const [, runs] of rounds) {
  if (!runs.length) continue;
  const pick = (k) => median(runs.map((r) => r[k]));
  rows.push({ ...runs[0], rps: pick('rps'), cpuUs: pick('cpuUs'), cpuMin: Math.min(...runs.map((r) => r.cpuUs)), rss: pick('rss'), cpuUsAtRate: pick('cpuUsAtRate'), p50: pick('p50'), p99: pick('p99'), errors: runs.reduce((n, r) => n + r.errors, 0) });
}
const byName = new Map(rows.map((r) => [r.name, r]));
const startup = (kind) => ({
  startMs: median(starts.get(kind).map((r) => r.startMs)),
  startCpuMs: median(starts.get(kind).map((r) => r.startCpuMs)),
  idleRss: median(starts.get(kind).map((r) => r.idleRss)),
});
const startupLine = starts.get('node').length
  ? `Start-up to \`/live\` answering and RSS after ${3} s idle (no config file; median of ${starts.get('node').length}): ` +
    `sidelight ${fmt(startup('sidelight').startMs)} ms, ${fmt(startup('sidelight').idleRss, 1)} MB; ` +
    `plain node listening ${fmt(startup('node').startMs)} ms, ${fmt(startup('node').idleRss, 1)} MB. ` +
    `CPU time until \`/live\` answered: sidelight ${fmt(startup('sidelight').startCpuMs)} ms, plain node ${fmt(startup('node').startCpuMs)} ms.`
  : '';
const cpuModel = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
const report = `# sidelight bench, ${new Date().toISOString()}

Machine: ${cpus().length} cores (nproc), ${cpuModel}; Node ${process.version}; upstream: ${upstream.kind} on loopback;
load: ${rows[0]?.tool ?? 'wrk'} -c${connections} for ${duration} s after a ${opts.warmup} s warm-up; latency: autocannon at ${opts.rate} req/s for ${opts['rate-duration']} s;
${repeat > 1 ? `median of ${repeat} interleaved rounds` : 'one round'}; ${pinned ? 'contender pinned to core 1, load generator/upstream/sink to core 0' : 'no CPU pinning'}; load average at the end: ${loadavg().map((n) => n.toFixed(2)).join(' ')}.
Command: \`node bench/run.mjs ${process.argv.slice(2).join(' ')}\`

${table(rows, byName.get('floor'))}

${startupLine}

Targets:
${checks(byName, starts.get('sidelight').length ? startup('sidelight') : undefined)}
`;
console.log(report);
writeFileSync(opts.out ?? join(resultsDir, 'latest.md'), report);
