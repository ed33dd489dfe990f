// Instructions per call of the rate limiters alone, to a few instructions (a whole request's
// count in bench/instructions.mjs moves by ~2k between runs, more than a limiter costs): the
// ingress layer's check (key none, client, header) and the egress limiter's token, each a
// million times after a warm-up, under callgrind; a run with no calls is subtracted.
//   node bench/limiter-instructions.mjs
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

const src = fileURLToPath(new URL('../src/', import.meta.url));
const CALLS = 1_000_000;
const WARMUP = 200_000;
const script = join(mkdtempSync(join(tmpdir(), 'sidelight-limiter-')), 'limiter.mjs');

// One call of `which` per iteration; the request's arrival time advances as a real one would.
const entry = `
import { KeyedLimit, rateLimitLayer } from './layers/rate-limit.ts';
import { UpstreamRateLimiter } from './egress/rate-limiter.ts';
const [calls, which, key] = [Number(process.argv[2]), process.argv[3], process.argv[4]];
const ex = { startedAt: 0, route: '', remoteAddress: '10.0.0.7', req: { headers: { 'x-api-key': 'sk_live_0123456789' } } };
const layer = rateLimitLayer([new KeyedLimit('ingress.rateLimit', { rps: 1e9, burst: 1e9, key })], () => {});
const limiter = new UpstreamRateLimiter({ rps: 1e9, burst: 1e9, maxWait: 1000 });
const waiter = { admitted() {} };
let sink = 0;
const once = (i) => {
  ex.startedAt = i;
  sink += which === 'ingress' ? (layer.onRequest(ex) === undefined ? 1 : 0) : limiter.take(waiter);
};
for (let i = 0; i < ${WARMUP}; i++) once(i);
for (let i = 0; i < calls; i++) once(${WARMUP} + i);
if (sink < 0) console.log(sink);
`;
buildSync({ stdin: { contents: entry, resolveDir: src, loader: 'ts' }, bundle: true, platform: 'node', format: 'esm', outfile: script, logLevel: 'error' });

/** instructions callgrind counted for the whole process, with `calls` calls */
function count(calls, which, key) {
  const run = spawnSync('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, script, String(calls), which, key], { encoding: 'utf8' });
  const found = /Collected : (\d+)/.exec(run.stderr);
  if (!found) throw new Error(`callgrind failed: ${run.stderr.slice(-500)}`);
  return Number(found[1]);
}

for (const [which, key, name] of [
  ['ingress', 'none', 'ingress.rateLimit, key none'],
  ['ingress', 'client', 'ingress.rateLimit, key client'],
  ['ingress', 'header:x-api-key', 'ingress.rateLimit, key header:x-api-key'],
  ['egress', '-', "an upstream's rateLimit"],
]) {
  const per = (count(CALLS, which, key) - count(0, which, key)) / CALLS;
  console.log(`${name}: ${Math.round(per)} instructions per request`);
}
