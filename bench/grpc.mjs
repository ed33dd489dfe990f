// HTTP/2 and gRPC rows (issue 21): unary gRPC calls through sidelight beside a bare HTTP/2 proxy
// floor, and h2 clients through sidelight to an HTTP/1.1 app beside the floor doing the same.
//   node bench/grpc.mjs [--only a,b] [--duration 5] [--warmup 2] [--connections 4] [--streams 16]
//                       [--rate 1000] [--repeat 1] [--profile NAME] [--pin on|off] [--out FILE]
// Load: h2load, `connections` h2c connections with `streams` calls in flight on each (closed loop),
// then the same for `duration` at a fixed `rate` of calls per second (0: skip), which every row
// keeps up with: CPU per call at equal work, where the closed loop gives each row its own pace.
// The app: grpc-js serving test/fixtures/echo.proto (bench/peers/grpc-app.mjs); the HTTP/1.1 app:
// run.mjs's upstream. CPU per call is the proxy process's utime+stime over the measured run ÷ calls,
// as in run.mjs; rounds are interleaved, each figure the median over rounds with the best round beside it.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sidelight, sidelightDefault } from './contenders.mjs';
import { startSink, startUpstream } from './fixtures.mjs';
import { answersGet, ECHO_SAY, echoes, GRPC_HEADERS, H2LOAD, h2load, writeEchoBody } from './h2-load.mjs';
import { cpuSeconds, freePort, has, median, rssMB, startProcess } from './lib.mjs';

const { values: opts } = parseArgs({
  options: {
    only: { type: 'string' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '4' },
    streams: { type: 'string', default: '16' },
    rate: { type: 'string', default: '1000' },
    repeat: { type: 'string', default: '1' },
    profile: { type: 'string' },
    pin: { type: 'string', default: 'on' },
    out: { type: 'string' },
  },
});
if (!has(H2LOAD)) {
  console.error('bench/grpc.mjs needs h2load: apt-get install -y nghttp2-client');
  process.exit(2);
}
// As in run.mjs: the proxy gets core 1; the bench, h2load, the apps and the OTLP sink share core 0.
const pinned = opts.pin !== 'off' && cpus().length >= 2 && has('/usr/bin/taskset');
if (pinned) execFileSync('/usr/bin/taskset', ['-a', '-pc', '0', String(process.pid)], { stdio: 'ignore' });
const PROXY_CPU = pinned ? 1 : undefined;
const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'sidelight-grpc-bench-'));
const resultsDir = here('./results/');
const load = { seconds: Number(opts.duration), connections: Number(opts.connections), streams: Number(opts.streams) };

const h2Floor = (name, note, env = {}) => ({
  name,
  note,
  start: (ctx) => ({ cmd: process.execPath, args: [...ctx.nodeArgs, here('./h2-floor.mjs')], env: { PORT: String(ctx.port), UPSTREAM: ctx.upstream, ...env } }),
});
const quiet = { tracing: { exporter: 'none' }, metrics: { enabled: false }, logging: { accessLog: false } };
// app: 'grpc' (unary Echo/Say to the grpc-js app over h2c) or 'h1' (h2 GETs, run.mjs's HTTP/1.1 upstream);
// floor: the row whose CPU per call the row is compared with.
const rows = [
  { name: 'direct-grpc', note: 'h2load → grpc-js app, no proxy', app: 'grpc' },
  { ...h2Floor('h2-floor', 'bench/h2-floor.mjs: node:http2 in, node:http2 client out, no telemetry'), app: 'grpc' },
  // undici's h2 client dispatches a POST (every gRPC call) or a streamed body only on a connection
  // with nothing else in flight, so a pool of it runs one call per connection at a time. These two
  // rows show what that costs: node:http2 that way, then undici itself (why sidelight reaches an
  // h2c app with its own client, src/proxy/h2c-client.ts).
  { ...h2Floor('h2-floor-per-call', 'the h2-floor with an h2c connection per call in flight, round robin', { SESSIONS: String(load.connections * load.streams) }), app: 'grpc', floor: 'h2-floor' },
  { ...h2Floor('h2-floor-undici', 'the h2-floor with an undici h2c Pool out, one call per connection', { CLIENT: 'undici' }), app: 'grpc', floor: 'h2-floor' },
  { ...sidelightDefault('sidelight-grpc', 'sink', 'no config file: request id, access log, metrics, spans 1.0 to a live collector'), app: 'grpc', floor: 'h2-floor' },
  { ...sidelight('sidelight-grpc-bare', quiet, { note: 'request id only: no access log, metrics or spans' }), app: 'grpc', floor: 'h2-floor' },
  { ...h2Floor('h2-floor-h1', 'bench/h2-floor.mjs: node:http2 in, undici HTTP/1.1 Pool out'), app: 'h1' },
  { ...sidelightDefault('sidelight-h2-to-h1', 'sink', 'no config file, h2 clients, HTTP/1.1 app'), app: 'h1', floor: 'h2-floor-h1' },
];

function appCalls(countUrl) {
  return new Promise((resolve, reject) => {
    // agent: false — a kept-alive socket may meet the app's idle close between rounds (socket hang up)
    get(countUrl, { agent: false }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve(Number(text)));
    }).on('error', reject);
  });
}

async function untilReady(check, url, proc) {
  const deadline = Date.now() + 15_000;
  for (let why = 'not asked'; ; await new Promise((r) => setTimeout(r, 100))) {
    if (proc?.child.exitCode !== null && proc?.child.exitCode !== undefined) throw new Error(`exited: ${proc.stderr()}`);
    if (!(why = await check(url))) return;
    if (Date.now() > deadline) throw new Error(`${url} ${why} ${proc?.stderr() ?? ''}`);
  }
}

async function measure(row, fixed) {
  const grpc = row.app === 'grpc';
  const ctx = { ...fixed, upstream: grpc ? fixed.grpcApp : fixed.h1App, port: await freePort(), adminPort: await freePort(), deadPort: await freePort() };
  ctx.nodeArgs = opts.profile === row.name ? ['--cpu-prof', `--cpu-prof-dir=${resultsDir}`] : [];
  const proc = row.start ? startProcess({ ...row.start(ctx), cpu: PROXY_CPU }) : undefined;
  const url = row.start ? `http://127.0.0.1:${ctx.port}` : `http://${fixed.grpcApp.slice('h2c://'.length)}`;
  const spec = grpc ? { ...load, bodyFile: fixed.body, headers: GRPC_HEADERS } : load;
  const target = grpc ? url + ECHO_SAY : `${url}/`;
  try {
    await untilReady(grpc ? echoes : answersGet, url, proc);
    const warm = h2load(target, { ...spec, seconds: Number(opts.warmup) });
    const before = { proxy: proc ? cpuSeconds(proc.pid) : 0, app: cpuSeconds(fixed.appPid), calls: await appCalls(fixed.countUrl) };
    const run = h2load(target, spec);
    const proxyCpu = proc ? cpuSeconds(proc.pid) - before.proxy : NaN;
    const appCpu = grpc ? cpuSeconds(fixed.appPid) - before.app : NaN;
    // A proxy's own gRPC errors are HTTP 200s to h2load: calls it counted that the app never answered.
    const unanswered = grpc ? Math.max(0, run.calls - ((await appCalls(fixed.countUrl)) - before.calls)) : 0;
    let atRate = { cpuUs: NaN, errors: 0 };
    if (Number(opts.rate) > 0) {
      const [cpu0, calls0] = [proc ? cpuSeconds(proc.pid) : 0, await appCalls(fixed.countUrl)];
      const paced = h2load(target, { ...spec, rate: Number(opts.rate) });
      const missing = grpc ? Math.max(0, paced.calls - ((await appCalls(fixed.countUrl)) - calls0)) : 0;
      atRate = { cpuUs: proc ? ((cpuSeconds(proc.pid) - cpu0) * 1e6) / paced.calls : NaN, errors: paced.errors + missing };
    }
    const after = grpc ? await echoes(url) : await answersGet(url);
    if (ctx.nodeArgs.length) process.stderr.write(`(the profile covers ~${warm.calls + run.calls} calls: for bench/profile-summary.mjs --calls) `);
    return {
      rps: run.rps,
      cpuUs: (proxyCpu * 1e6) / run.calls,
      appCpuUs: (appCpu * 1e6) / run.calls,
      rss: proc ? rssMB(proc.pid) : NaN,
      cpuUsAtRate: atRate.cpuUs,
      errors: run.errors + unanswered + atRate.errors + (after ? 1 : 0),
    };
  } finally {
    await proc?.stop();
  }
}

const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : '–');
const only = opts.only?.split(',').map((s) => s.trim());
const selected = rows.filter((r) => !only || only.includes(r.name));
mkdirSync(resultsDir, { recursive: true });
const upstream = await startUpstream(tmp);
const sink = await startSink();
const [grpcPort, countPort] = [await freePort(), await freePort()];
const app = startProcess({ cmd: process.execPath, args: [here('./peers/grpc-app.mjs')], env: { PORT: String(grpcPort), COUNT_PORT: String(countPort) } });
const fixed = { h1App: upstream.url, grpcApp: `h2c://127.0.0.1:${grpcPort}`, sinkUrl: sink.url, tmp, body: writeEchoBody(tmp), appPid: app.pid, countUrl: `http://127.0.0.1:${countPort}/` };
const rounds = new Map(selected.map((r) => [r.name, []]));
const repeat = Math.max(1, Number(opts.repeat));
try {
  await untilReady(echoes, `http://127.0.0.1:${grpcPort}`, app);
  for (let round = 1; round <= repeat; round++) {
    for (const row of selected) {
      process.stderr.write(`grpc bench ${round}/${repeat}: ${row.name} … `);
      try {
        const r = await measure(row, fixed);
        rounds.get(row.name).push(r);
        process.stderr.write(`${fmt(r.rps)} calls/s, ${fmt(r.cpuUs, 1)} µs/call, ${r.errors} errors\n`);
      } catch (err) {
        process.stderr.write(`failed: ${err.message}\n`);
      }
    }
  }
} finally {
  await app.stop();
  await sink.stop();
  await upstream.stop();
}

const results = new Map();
for (const row of selected) {
  const runs = rounds.get(row.name);
  if (!runs.length) continue;
  const pick = (k) => median(runs.map((r) => r[k]));
  results.set(row.name, {
    ...row,
    rps: pick('rps'),
    cpuUs: pick('cpuUs'),
    cpuMin: Math.min(...runs.map((r) => r.cpuUs)),
    cpuUsAtRate: pick('cpuUsAtRate'),
    appCpuUs: pick('appCpuUs'),
    rss: pick('rss'),
    errors: runs.reduce((n, r) => n + r.errors, 0),
  });
}
const ratio = (r, k = 'cpuUs') => (r.floor && results.get(r.floor) ? r[k] / results.get(r.floor)[k] : NaN);
const table = [
  `| row | calls/s | CPU µs/call | × floor | min CPU µs/call | CPU µs/call @${opts.rate}/s | × floor @rate | app CPU µs/call | RSS MB | errors |`,
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...[...results.values()].map(
    (r) =>
      `| ${r.name} (${r.note}) | ${fmt(r.rps)} | ${fmt(r.cpuUs, 1)} | ${r.floor ? `${fmt(ratio(r), 2)} (${r.floor})` : '–'} | ${fmt(r.cpuMin, 1)} | ` +
      `${fmt(r.cpuUsAtRate, 1)} | ${fmt(ratio(r, 'cpuUsAtRate'), 2)} | ${fmt(r.appCpuUs, 1)} | ${fmt(r.rss)} | ${r.errors} |`,
  ),
].join('\n');
const target = results.get('sidelight-grpc');
const verdict = (k, label) => `- [${ratio(target, k) <= 1.3 ? 'pass' : 'FAIL'}] sidelight-grpc (default telemetry) ÷ h2-floor, CPU per call ${label} ≤ 1.3×: ${fmt(ratio(target, k), 2)}×`;
const check = target && results.get('h2-floor') ? `${verdict('cpuUs', 'closed loop')}\n${verdict('cpuUsAtRate', `at ${opts.rate} calls/s`)}` : '- [skip] sidelight-grpc ÷ h2-floor: needs both rows';
const cpuModel = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
const h2loadVersion = execFileSync(H2LOAD, ['--version'], { encoding: 'utf8' }).trim();
const report = `# sidelight HTTP/2 and gRPC bench, ${new Date().toISOString()}

Machine: ${cpus().length} cores, ${cpuModel}; Node ${process.version}; ${h2loadVersion}; HTTP/1.1 app: ${upstream.kind}; gRPC app: grpc-js (bench/peers/grpc-app.mjs).
Load: h2load -c${load.connections} -m${load.streams} (${load.connections * load.streams} in flight) for ${load.seconds} s after ${opts.warmup} s of warm-up, then ${Number(opts.rate) > 0 ? `${opts.rate} calls/s for ${load.seconds} s` : 'no fixed-rate run'}; ${repeat > 1 ? `median of ${repeat} interleaved rounds` : 'one round'}; ${pinned ? 'proxy pinned to core 1, load generator/apps/sink to core 0' : 'no CPU pinning'}; load average at the end: ${loadavg().map((n) => n.toFixed(2)).join(' ')}.
Command: \`node bench/grpc.mjs ${process.argv.slice(2).join(' ')}\`

${table}

${check}
`;
console.log(report);
writeFileSync(opts.out ?? join(resultsDir, 'grpc.md'), report);
