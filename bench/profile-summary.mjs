// Where a CPU profile's time goes: self time by source module and by function.
//   node bench/profile-summary.mjs PROFILE.cpuprofile [--top 25] [--calls N]
// With --calls (the calls or requests the profile covers), each line also reads in µs per call.
// Frames in dist/ are named by the source they were bundled from when dist/ was built with
// `node scripts/build.mjs --sourcemap` (the same code, with .map files beside it).
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: opts, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' }, calls: { type: 'string' } } });
const profile = JSON.parse(readFileSync(positionals[0], 'utf8'));
const maps = new Map();

function sourceMapOf(url) {
  if (!maps.has(url)) {
    const file = url.startsWith('file://') ? `${fileURLToPath(url)}.map` : '';
    maps.set(url, file && existsSync(file) ? new SourceMap(JSON.parse(readFileSync(file, 'utf8'))) : null);
  }
  return maps.get(url);
}

/** src/…, node_modules/<package>, node:<module>, or V8's own entries ((garbage collector), (program), (idle)). */
function moduleOf({ url, lineNumber, columnNumber, functionName }) {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  let source = url;
  const map = sourceMapOf(url);
  if (map) source = map.findEntry(lineNumber, columnNumber)?.originalSource ?? url;
  source = source.replace(/^file:\/\//, '');
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(source);
  if (pkg) return `node_modules/${pkg[1]}`;
  const src = /(?:^|\/)(src\/.*)$/.exec(source);
  return src ? src[1] : source;
}

// Self time per node: samples attributed by id, weighted by the time deltas.
const selfUs = new Map();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const byModule = new Map();
const byFunction = new Map();
let total = 0;
for (const node of profile.nodes) {
  const us = selfUs.get(node.id) ?? 0;
  if (!us || node.callFrame.functionName === '(idle)') continue;
  total += us;
  const mod = moduleOf(node.callFrame);
  byModule.set(mod, (byModule.get(mod) ?? 0) + us);
  const fn = `${node.callFrame.functionName || '(anonymous)'} — ${mod}`;
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
}
const top = Number(opts.top);
const calls = Number(opts.calls);
const cells = (us) => `${((100 * us) / total).toFixed(1)} %${calls ? ` | ${(us / calls).toFixed(1)}` : ''}`;
const head = (what) => `| ${what} | self |${calls ? ' µs/call |' : ''}\n| --- | ---: |${calls ? ' ---: |' : ''}`;
const list = (m) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, us]) => `| ${k} | ${cells(us)} |`).join('\n');
console.log(`Busy time ${(total / 1e3).toFixed(0)} ms (idle left out)${calls ? `, ${(total / calls).toFixed(1)} µs per call over ${calls} calls` : ''}.

${head('module')}
${list(byModule)}

${head('function — module')}
${list(byFunction)}`);
