// Instructions per request: each contender runs under valgrind's callgrind, counting nothing
// through start-up and a warm-up (the JIT settles), then counting every instruction of every
// thread over a fixed number of requests, less the optimising compiler's own work.
//   node bench/instructions.mjs [--only a,b] [--warmup 30000] [--count 10000] [--jobs 2]
// CPU time on a shared VM moves ±20 % between identical rounds. An instruction count does not
// depend on the neighbours' load; what still moves it is the JIT's state, so read differences of
// more than ~3 %. TurboFan compiles are not counted: under valgrind clock-driven timers run ~50×
// as often per request, take rarely used paths, deoptimise and recompile (22 compiles in a
// floor's counted window, 16–20k instructions per request, ±2k between runs), while at full
// speed the JIT settles within ~40k requests (--trace-opt) and compiles nothing more. It ignores what
// instructions cost (cache misses, the kernel's time in syscalls), which run.mjs keeps measuring.
// Needs valgrind (apt-get install valgrind); a contender runs ~50× slower under it, so a row
// takes a few minutes.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { contenders } from './contenders.mjs';
import { startSink, startUpstream } from './fixtures.mjs';
import { freePort, has, startProcess, waitFor200 } from './lib.mjs';

const { values: opts } = parseArgs({
  options: {
    only: { type: 'string', default: 'floor,least-none,least-id,least-id-log,least-id-log-trace,least-default,sidelight-nolog,sidelight,sidelight-metrics,sidelight-trace-1.0,sidelight-default' },
    warmup: { type: 'string', default: '30000' },
    count: { type: 'string', default: '10000' },
    jobs: { type: 'string', default: '2' },
    out: { type: 'string' },
  },
});
const VALGRIND = '/usr/bin/valgrind';
if (!has(VALGRIND)) {
  console.error('bench/instructions.mjs needs valgrind: apt-get install -y valgrind');
  process.exit(2);
}
const tmp = mkdtempSync(join(tmpdir(), 'sidelight-instructions-'));
const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
const warmup = Number(opts.warmup);
const count = Number(opts.count);

/** Instructions per request of one contender, counted over `count` requests after `warmup` uncounted ones. */
async function measure(c, ctxBase) {
  // Optimising compiles on the main thread: tiering then follows call counts, not how fast the
  // compiler thread keeps up under valgrind, so the JIT reaches the same state in every run.
  const nodeArgs = ['--no-concurrent-recompilation'];
  const ctx = { ...ctxBase, port: await freePort(), adminPort: await freePort(), deadPort: await freePort(), nodeArgs };
  const spec = c.start(ctx);
  const out = join(tmp, `${c.name}.callgrind`);
  const proc = startProcess({
    cmd: VALGRIND,
    // JIT code rewrites itself: valgrind must check for that outside the stack too.
    args: ['--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${out}`, '--smc-check=all-non-file', '--dump-instr=no', spec.cmd, ...spec.args],
    env: spec.env,
  });
  const url = `http://127.0.0.1:${ctx.port}${c.path ?? '/'}`;
  try {
    await waitFor200(url, proc, 300_000);
    const load = (amount) => autocannon({ url, connections: 10, amount, timeout: 120 });
    await load(warmup);
    // Timers (log flushes, probes, the lag monitor) tick by the clock, and under valgrind the load
    // takes ~50× as long, so their share is overstated (by ~1–7k per request, measured). Taking a
    // later idle window off instead took off the memory reducer's full GCs after the load too.
    execFileSync('callgrind_control', ['--instr=on', String(proc.pid)], { stdio: 'ignore' });
    const run = await load(count);
    execFileSync('callgrind_control', ['--dump', String(proc.pid)], { stdio: 'ignore' });
    let instructions = 0;
    let compiling = 0;
    for (const f of readdirSync(tmp).filter((n) => n.startsWith(`${c.name}.callgrind.`))) {
      instructions += Number(/\ntotals: (\d+)/.exec(readFileSync(join(tmp, f), 'utf8'))?.[1] ?? NaN);
      compiling += optimisingCompiles(join(tmp, f));
    }
    const n = run.requests.total;
    return { name: c.name, note: c.note ?? '', perRequest: (instructions - compiling) / n, compilePerRequest: compiling / n, requests: n, errors: run.non2xx + run.errors };
  } finally {
    proc.child.kill('SIGKILL');
    await proc.exited;
  }
}

/**
 * Instructions spent in V8's optimising compilers (synchronous with --no-concurrent-recompilation), by
 * callgrind's inclusive cost: TurboFan's entry on Node 20 (V8 11), TurboFan's and Maglev's on Node 22+.
 */
function optimisingCompiles(file) {
  const annotated = execFileSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  let total = 0;
  const entry = /^\s*([\d,]+) \([ \d.]+%\)\s+\S*Runtime_(?:CompileOptimized(?:_|\(|OSR)|OptimizeTurbofanEager\(|OptimizeMaglevEager\()/gm;
  for (const m of annotated.matchAll(entry)) total += Number(m[1].replaceAll(',', ''));
  return total;
}

const only = opts.only.split(',').map((s) => s.trim());
const selected = contenders.filter((c) => only.includes(c.name) && c.group !== 'reference');
mkdirSync(resultsDir, { recursive: true });
const upstream = await startUpstream(tmp);
const sink = await startSink();
const rows = [];
try {
  // Counts do not depend on what else runs: contenders run side by side.
  const queue = [...selected];
  const worker = async () => {
    for (let c = queue.shift(); c; c = queue.shift()) {
      process.stderr.write(`instructions: ${c.name} …\n`);
      const row = await measure(c, { upstream: upstream.url, sinkUrl: sink.url, tmp });
      process.stderr.write(`instructions: ${c.name} ${(row.perRequest / 1000).toFixed(1)} k/req\n`);
      rows.push(row);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Number(opts.jobs)) }, worker));
} finally {
  await sink.stop();
  await upstream.stop();
}

rows.sort((a, b) => selected.findIndex((c) => c.name === a.name) - selected.findIndex((c) => c.name === b.name));
const byName = new Map(rows.map((r) => [r.name, r]));
const floor = byName.get('floor');
const k = (n) => (n / 1000).toFixed(1);
const ratio = (a, b) => (a && b ? (a.perRequest / b.perRequest).toFixed(2) : '–');
const target = (label, a, b, limit) => {
  const [x, y] = [byName.get(a), byName.get(b)];
  if (!x || !y) return `- [skip] ${label}: needs both rows`;
  const r = x.perRequest / y.perRequest;
  return `- [${r <= limit ? 'pass' : 'FAIL'}] ${label} ≤ ${limit}×: ${k(x.perRequest)}k vs ${k(y.perRequest)}k = ${r.toFixed(2)}×`;
};
const cpuModel = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
const valgrindVersion = execFileSync(VALGRIND, ['--version'], { encoding: 'utf8' }).trim();
const report = `# sidelight instructions per request, ${new Date().toISOString()}

Machine: ${cpus().length} cores, ${cpuModel}; Node ${process.version}; ${valgrindVersion} (callgrind); upstream: ${upstream.kind}.
Each contender: ${warmup} requests uncounted, then ${count} counted (autocannon, 10 connections); every thread's instructions.
Command: \`node bench/instructions.mjs ${process.argv.slice(2).join(' ')}\`

| contender | instructions/req (k) | × floor | TurboFan, not counted (k) | errors |
| --- | ---: | ---: | ---: | ---: |
${rows.map((r) => `| ${r.name}${r.note ? ` (${r.note})` : ''} | ${k(r.perRequest)} | ${ratio(r, floor)} | ${k(r.compilePerRequest)} | ${r.errors} |`).join('\n')}

Targets (the CPU-time targets of bench/run.mjs, read as instruction counts):
${[
  target('default config ÷ floor', 'sidelight-default', 'floor', 1.25),
  target('tracing 1.0 ÷ tracing off', 'sidelight-trace-1.0', 'sidelight', 1.1),
  target('request id + access log ÷ floor', 'sidelight', 'floor', 1.15),
  target('metrics on ÷ off', 'sidelight-metrics', 'sidelight', 1.05),
].join('\n')}

The same targets for the least code that does the features' work (bench/least.ts): where these
fail, no arrangement of sidelight's own code can pass them with these encoders on this Node.
${[
  target('least default ÷ floor', 'least-default', 'floor', 1.25),
  target('least tracing 1.0 ÷ least without it', 'least-id-log-trace', 'least-id-log', 1.1),
  target('least request id + access log ÷ floor', 'least-id-log', 'floor', 1.15),
].join('\n')}
And what sidelight's structure adds to each: ${[
  ['sidelight', 'least-id-log'],
  ['sidelight-trace-1.0', 'least-id-log-trace'],
  ['sidelight-default', 'least-default'],
]
  .map(([a, b]) => (byName.get(a) && byName.get(b) ? `${a} ${k(byName.get(a).perRequest - byName.get(b).perRequest)}k` : `${a} –`))
  .join(', ')}.
`;
console.log(report);
writeFileSync(opts.out ?? join(resultsDir, 'instructions.md'), report);
