// CPU per byte moved through an egress CONNECT tunnel: sidelight (the built CLI, access log on,
// spans off) next to a floor, the least a Node CONNECT proxy does (node:http 'connect', net.connect
// to a fixed upstream, 200, pipe both ways). Each proxy runs pinned to core 0; this process, on
// core 1, opens one tunnel per round, pushes SIZE through it into a local TCP sink with
// backpressure, and reads the proxy's utime+stime and minor page faults from /proc before and
// after. Rounds rotate between the proxies; the median round is reported.
//
// The third row is sidelight with glibc's heap trimming raised (MALLOC_TRIM_THRESHOLD_): every
// socket read is a fresh 64 KiB buffer, freed in bulk when V8 collects on external-memory
// pressure; when glibc hands that memory back to the kernel each time, the next reads fault it in
// again, page by page (the minor-fault column shows it), and that, not JavaScript, is what a
// proxy process pays per byte beyond the floor.
//
//   npm run build && node bench/tunnel.mjs [--size-mb 2048] [--rounds 3]
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, freePort, rssMB, startProcess } from './lib.mjs';

const SELF = fileURLToPath(import.meta.url);
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

// `node bench/tunnel.mjs --floor PORT UPSTREAM_PORT`: the floor proxy itself.
if (process.argv[2] === '--floor') {
  const [port, upstreamPort] = process.argv.slice(3).map(Number);
  const server = createHttpServer();
  server.on('connect', (req, client, head) => {
    const upstream = connect(upstreamPort, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  server.listen(port, '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
} else {
  await main();
}

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

/** A TCP sink: counts what each connection brings and says when `expected` bytes have arrived. */
async function startSink() {
  let waiting;
  const server = createServer((socket) => {
    let got = 0;
    socket.on('data', (d) => {
      got += d.length;
      if (waiting && got >= waiting.expected) waiting.resolve();
    });
    socket.on('error', () => {});
  });
  const port = await freePort();
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    expect(bytes) {
      return new Promise((resolve) => (waiting = { expected: bytes, resolve }));
    },
    close: () => server.close(),
  };
}

async function waitForPort(port, proc) {
  for (let i = 0; i < 150; i++) {
    if (proc.child.exitCode !== null) throw new Error(`proxy exited: ${proc.stderr()}`);
    const ok = await new Promise((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${port}`);
}

/** One tunnel through the proxy; `bytes` pushed into the sink with backpressure. */
async function push(proxyPort, authority, sink, bytes) {
  const socket = connect(proxyPort, '127.0.0.1');
  await new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
    let head = '';
    const onData = (d) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      if (!head.startsWith('HTTP/1.1 200')) reject(new Error(`CONNECT refused: ${head.split('\r\n')[0]}`));
      else resolve();
    };
    socket.on('data', onData);
  });
  const arrived = sink.expect(bytes);
  const chunk = Buffer.alloc(256 * 1024, 0x5a);
  for (let sent = 0; sent < bytes; sent += chunk.length) {
    if (!socket.write(chunk)) await new Promise((resolve) => socket.once('drain', resolve));
  }
  await arrived;
  socket.destroy();
}

/** minor page faults of one process so far (field 10 of /proc/PID/stat) */
function minorFaults(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7]);
}

function median(values) {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
}

async function main() {
  if (!existsSync(CLI)) throw new Error('dist/cli.js is missing: run `npm run build` first');
  const sizeMB = arg('--size-mb', 2048);
  const rounds = arg('--rounds', 3);
  const bytes = sizeMB * 1024 * 1024;
  const sink = await startSink();

  const floorPort = await freePort();
  const floor = startProcess({ cmd: process.execPath, args: [SELF, '--floor', String(floorPort), String(sink.port)], cpu: 0 });
  const config = join(mkdtempSync(join(tmpdir(), 'sidelight-bench-')), 'sidelight.yaml');
  writeFileSync(config, `egress:\n  upstreams:\n    sink: { url: "http://127.0.0.1:${sink.port}", hosts: [sink.bench] }\n`);
  const startSidelight = async (env) => {
    const port = await freePort();
    const args = [CLI, 'run', '--config', config, '--ingress', '127.0.0.1:0', '--egress', `127.0.0.1:${port}`, '--admin', '127.0.0.1:0'];
    return { proc: startProcess({ cmd: process.execPath, args, env: { OTEL_TRACES_EXPORTER: 'none', ...env }, cpu: 0 }), port };
  };
  const sidelight = await startSidelight({});
  const trimmed = await startSidelight({ MALLOC_TRIM_THRESHOLD_: String(128 * 1024 * 1024) });
  const proxies = [
    { name: 'floor (node:http connect + pipe)', proc: floor, port: floorPort, results: [] },
    { name: 'sidelight (tunnel, access log, metrics)', ...sidelight, results: [] },
    { name: 'sidelight, MALLOC_TRIM_THRESHOLD_=128MiB', ...trimmed, results: [] },
  ];
  try {
    for (const p of proxies) await waitForPort(p.port, p.proc);
    // Warm-up: JIT and socket buffers, not counted.
    for (const p of proxies) await push(p.port, 'sink.bench:443', sink, 64 * 1024 * 1024);
    for (let round = 0; round < rounds; round++) {
      for (const p of [...proxies.slice(round % proxies.length), ...proxies.slice(0, round % proxies.length)]) {
        const cpuBefore = cpuSeconds(p.proc.pid);
        const faultsBefore = minorFaults(p.proc.pid);
        const started = performance.now();
        await push(p.port, 'sink.bench:443', sink, bytes);
        const seconds = (performance.now() - started) / 1000;
        const cpu = cpuSeconds(p.proc.pid) - cpuBefore;
        const gib = bytes / 2 ** 30;
        p.results.push({ cpuMsPerGiB: (cpu * 1000) / gib, faultsPerGiB: (minorFaults(p.proc.pid) - faultsBefore) / gib, mbPerSecond: sizeMB / seconds, rss: rssMB(p.proc.pid) });
        process.stderr.write(`round ${round + 1} ${p.name}: ${(cpu * 1000).toFixed(0)} ms CPU, ${(sizeMB / seconds).toFixed(0)} MB/s\n`);
      }
    }
  } finally {
    await Promise.all(proxies.map((p) => p.proc.stop()));
    sink.close();
  }

  const floorCpu = median(proxies[0].results.map((r) => r.cpuMsPerGiB));
  console.log(`\n${sizeMB} MiB per round through one CONNECT tunnel, ${rounds} rounds, median; each proxy pinned to core 0\n`);
  console.log('| proxy | CPU ms per GiB | CPU µs per MB | MB/s | × floor CPU | minor faults per GiB | RSS MB |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const p of proxies) {
    const cpu = median(p.results.map((r) => r.cpuMsPerGiB));
    const mbs = median(p.results.map((r) => r.mbPerSecond));
    const faults = median(p.results.map((r) => r.faultsPerGiB));
    const rss = Math.max(...p.results.map((r) => r.rss));
    console.log(`| ${p.name} | ${cpu.toFixed(0)} | ${((cpu * 1000) / 1024).toFixed(0)} | ${mbs.toFixed(0)} | ${(cpu / floorCpu).toFixed(2)} | ${(faults / 1000).toFixed(0)}k | ${rss.toFixed(0)} |`);
  }
}
