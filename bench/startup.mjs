// Start-up and idle memory: time from spawn to the admin port's /live answering 200, and RSS
// after IDLE_MS with no traffic. sidelight as a user runs it without a config file, next to
// plain node listening on a port (bench/peers/listener.mjs). NODE_EXTRA_CA_CERTS is removed from
// the children's environment: this machine sets it, the image does not, and Node then parses the
// whole CA bundle at boot (+50 ms for every Node process).
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, freePort, imageNodeOptions, onCore, rssMB } from './lib.mjs';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const LISTENER = fileURLToPath(new URL('./peers/listener.mjs', import.meta.url));
/** read once, not inside each start's timed window */
const SIDELIGHT_NODE_OPTIONS = imageNodeOptions();
const IDLE_MS = 3000;

const live = (port) =>
  new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/live', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.end();
  });

/**
 * One start of `kind` ('sidelight' | 'node'): { startMs, startCpuMs, idleRss }; startCpuMs is the
 * process's CPU time until /live answered, which waiting for a busy core does not inflate. `cpu`: the core to start it
 * on, as the contenders are pinned; a child inherits the bench's own pinning otherwise, and then
 * shares core 0 with the bench's /live polling, wrk, the upstream and the sink (start-up read
 * 190–330 ms there against 145–165 ms, with 130–150 ms of CPU, on a core of its own).
 */
export async function measureStartup(kind, { sinkUrl, upstream, cpu }) {
  const admin = await freePort();
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  if (kind === 'sidelight') env.NODE_OPTIONS = SIDELIGHT_NODE_OPTIONS;
  const args =
    kind === 'node'
      ? [LISTENER]
      : [CLI, 'run', '--app', upstream, '--ingress', `127.0.0.1:${await freePort()}`, '--egress', '127.0.0.1:0', '--admin', `127.0.0.1:${admin}`];
  const t0 = performance.now();
  const [file, argv] = onCore(cpu, process.execPath, args);
  const child = spawn(file, argv, { env: { ...env, PORT: String(admin), OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl }, stdio: 'ignore' });
  try {
    const deadline = t0 + 10_000;
    while (!(await live(admin))) {
      if (performance.now() > deadline || child.exitCode !== null) throw new Error(`${kind} did not answer /live`);
      await new Promise((r) => setTimeout(r, 2));
    }
    const startMs = performance.now() - t0;
    const startCpuMs = cpuSeconds(child.pid) * 1000;
    await new Promise((r) => setTimeout(r, IDLE_MS));
    return { startMs, startCpuMs, idleRss: rssMB(child.pid) };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
  }
}
