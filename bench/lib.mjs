// Process and /proc plumbing for the benchmark: free ports, children, CPU ticks, RSS, readiness.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { request } from 'node:http';

export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

export const has = (path) => existsSync(path);

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** utime + stime of one process, in seconds (fields 14 and 15 of /proc/PID/stat). */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

export function rssMB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** The command line that runs `cmd` on core `cpu` only (taskset execs, so the pid is the child's); as it is without `cpu`. */
export function onCore(cpu, cmd, args) {
  return cpu === undefined ? [cmd, args] : ['taskset', ['-c', String(cpu), cmd, ...args]];
}

/**
 * Starts a child; stdout is discarded (sidelight's access log goes to /dev/null), stderr kept for
 * errors. With `cpu`, the child runs on that core only (taskset execs, so the pid is the child's).
 */
export function startProcess({ cmd, args = [], env = {}, cpu }) {
  const [file, argv] = onCore(cpu, cmd, args);
  const child = spawn(file, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  return {
    child,
    pid: child.pid,
    stderr: () => stderr,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function get(url) {
  return new Promise((resolve) => {
    const req = request(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
    req.setTimeout(2000, () => req.destroy());
    req.end();
  });
}

export async function waitFor200(url, proc, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc && (proc.child.exitCode !== null || proc.child.signalCode !== null)) {
      throw new Error(`exited before answering ${url}: ${proc.stderr()}`);
    }
    if ((await get(url)) === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms: ${proc?.stderr() ?? ''}`);
}

/** Deep merge of plain objects (config overrides for contender rows). */
export function merge(base, extra) {
  const out = { ...base };
  for (const [k, v] of Object.entries(extra ?? {})) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && base[k] && typeof base[k] === 'object' ? merge(base[k], v) : v;
  }
  return out;
}

/**
 * The NODE_OPTIONS the container image runs sidelight with (the Dockerfile's runtime stage), when
 * the bench runs on the image's Node line: then sidelight runs as a pod runs it. On another line
 * it runs as `npx sidelight` does, with Node's defaults: on Node 20 a V8 heap flag makes V8 reject
 * Node's embedded code cache for its own modules (the flag hash differs), +22-30 ms to start,
 * which the image's Node 24 does not pay and no Node 20 user is given.
 */
export function imageNodeOptions() {
  const dockerfile = readFileSync(new URL('../Dockerfile', import.meta.url), 'utf8');
  const imageMajor = /^ARG NODE_IMAGE=node:(\d+)/m.exec(dockerfile)?.[1];
  if (imageMajor !== process.versions.node.split('.')[0]) return '';
  return /^ENV NODE_OPTIONS=(.+)$/m.exec(dockerfile)?.[1].trim() ?? '';
}

/** The median of the finite numbers in `xs` (NaN when there are none). */
export function median(xs) {
  const sorted = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!sorted.length) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
