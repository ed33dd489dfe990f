// Instructions per request: each contender runs under valgrind's callgrind, counting nothing
// through start-up and a warm-up (the JIT settles), then counting every instruction of every
// thread (GC helpers and the compiler included) over a fixed number of requests.
//   node bench/instructions.mjs [--only a,b] [--warmup 30000] [--count 10000] [--jobs 2]
// CPU time on a shared VM moves ±20 % between identical rounds. An instruction count does not
// depend on the neighbours' load; what still moves it is the JIT's state (repeated runs of the
// floor read 157–169k per request), so read differences of more than ~5 %. It ignores what
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
    only: { type: 'string', default: 'floor,sidelight-nolog,sidelight,sidelight-metrics,sidelight-trace-1.0,sidelight-default' },
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
    for (const f of readdirSync(tmp).filter((n) => n.startsWith(`${c.name}.callgrind.`))) {
      instructions += Number(/\ntotals: (\d+)/.exec(readFileSync(join(tmp, f), 'utf8'))?.[1] ?? NaN);
    }
    return { name: c.name, note: c.note ?? '', perRequest: instructions / run.requests.total, requests: run.requests.total, errors: run.non2xx + run.errors };
  } finally {
    proc.child.kill('SIGKILL');
    await proc.exited;
  }
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

| contender | instructions/req (k) | × floor | errors |
| --- | ---: | ---: | ---: |
${rows.map((r) => `| ${r.name}${r.note ? ` (${r.note})` : ''} | ${k(r.perRequest)} | ${ratio(r, floor)} | ${r.errors} |`).join('\n')}

Targets (the CPU-time targets of bench/run.mjs, read as instruction counts):
${[
  target('default config ÷ floor', 'sidelight-default', 'floor', 1.25),
  target('tracing 1.0 ÷ tracing off', 'sidelight-trace-1.0', 'sidelight', 1.1),
  target('request id + access log ÷ floor', 'sidelight', 'floor', 1.15),
  target('metrics on ÷ off', 'sidelight-metrics', 'sidelight', 1.05),
].join('\n')}
`;
console.log(report);
writeFileSync(opts.out ?? join(resultsDir, 'instructions.md'), report);
