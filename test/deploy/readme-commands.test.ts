// Every shell command in README.md runs here, in the README's order, or is named in NOT_HERE with
// the reason it cannot; and so does every command the demo prints. The rule:
//
// - A command is a line of one of the README's ```sh blocks, its trailing `  # comment` dropped.
// - It runs with bash in a scratch directory set up like a clone (dist/, deploy/, package.json and
//   node_modules linked from this checkout; the app.yaml and sidelight.yaml the README names
//   written there), with npm's global prefix in a temporary directory: `sidelight` is on PATH
//   only once the README's own `npm install -g .` has put it there. It must exit 0, a pipeline's
//   every stage included, and a `curl -i` answer must not be a 5xx.
// - Tests run side by side, so the README's ports are swapped for free ones: 3000 is a real app
//   (test/helpers/test-app.ts, "your app"), 15080/15081/15090 are sidelight's listeners (also set
//   as SIDELIGHT_INGRESS/EGRESS/ADMIN, since the README relies on the defaults), 4318 is an OTLP
//   receiver (also the default endpoint). `sidelight tap` and `stat`, which reach the admin port
//   at 15090 unless told otherwise, are told the swapped one with `--admin`. There is no network:
//   https://api.stripe.com is a local app.
// - `sidelight run` and `npm run demo` keep running: each stops the one before, as a user's Ctrl-C
//   would, and the next command runs once it listens. `npm run demo` is `npm run build && node
//   deploy/examples/demo.mjs`: vitest's global setup has built dist/, so the second half runs,
//   with DEMO_PORT_OFFSET moving its five ports onto free ones; then each command it prints runs
//   by the same rules (its "open URL in a browser" line as a GET of that URL). `sidelight tap` and
//   `stat --watch` follow a stream: each must connect, and still be running when the sidelight it
//   follows is stopped (they exit at once on a bad flag or an unreachable admin port).
// - Not run here: installing and building (the test stands on them: .ci/run runs `npm ci`,
//   test/global-setup.ts the build), `npm test` (.ci/run runs it: checked below), and whatever
//   needs a Docker daemon or a Kubernetes cluster. A pipe into kubectl runs up to the pipe, and
//   what it would apply must be Kubernetes YAML with the sidecar in it.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { send, until } from '../helpers/http.js';
import { startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

const NOT_HERE: Array<[RegExp, string]> = [
  [/^npm ci$/, '.ci/run installs the dependencies before the tests'],
  [/^npm run build$/, 'test/global-setup.ts builds dist/ before every test run'],
  [/^npm test$/, '.ci/run runs it (checked below)'],
  [/^docker /, 'needs a Docker daemon'],
  [/^kubectl /, 'needs a Kubernetes cluster'],
];
const INTO_KUBECTL = / \| kubectl .*$/;
const SERVER = /(^|\s)sidelight run\b/;
const DEMO = /^npm run demo$/;
const FOLLOWER = /^(npx )?sidelight (tap\b|stat\b.*--watch)/;
const LIVE_VIEW = /^(npx )?sidelight (tap|stat)\b(?!.*--admin)/;
const BROWSER = /^open (\S+) in a browser$/;
const DEMO_PORTS = [15080, 15081, 15090, 18080, 18081];

/** the lines of ```sh blocks (or of the demo's list), comments dropped */
const commandLines = (text: string) =>
  text
    .split('\n')
    .map((l) => l.replace(/\s{2,}#.*$/, '').trim())
    .filter((l) => l && !l.startsWith('#'));
const readmeCommands = (markdown: string) => [...markdown.matchAll(/^```sh\n([\s\S]*?)^```/gm)].flatMap((m) => commandLines(m[1]));

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
      .once('error', () => resolve(false))
      .listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** an offset that puts all five demo ports on free ones, below Linux's ephemeral range (32768) */
async function freeDemoOffset(): Promise<number> {
  for (;;) {
    const offset = 1000 + Math.floor(Math.random() * 13_000);
    if ((await Promise.all(DEMO_PORTS.map((p) => isFree(p + offset)))).every(Boolean)) return offset;
  }
}

/** a scratch directory laid out like a clone, with the files the README's commands name */
function scratchClone(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sidelight-readme-'));
  for (const entry of ['dist', 'deploy', 'node_modules', 'package.json']) symlinkSync(join(ROOT, entry), join(dir, entry));
  copyFileSync(join(ROOT, 'test/golden/inject/deployment.input.yaml'), join(dir, 'app.yaml'));
  copyFileSync(join(ROOT, 'deploy/examples/sidelight.yaml'), join(dir, 'sidelight.yaml'));
  return dir;
}

interface Background {
  command: string;
  proc: ChildProcess;
  output: () => string;
  exited: Promise<number | string>;
}

function stop(b: Background): void {
  if (b.proc.exitCode === null && b.proc.signalCode === null) process.kill(-b.proc.pid!, 'SIGTERM');
}

describe('the README commands', () => {
  const commands = readmeCommands(README);
  const background: Background[] = [];
  const scratch: string[] = [];
  let app: TestApp | undefined;
  let api: TestApp | undefined;
  let otlp: OtlpReceiver | undefined;

  afterAll(async () => {
    for (const b of background) stop(b);
    await Promise.all([...background.map((b) => b.exited), app?.close(), api?.close(), otlp?.close()]);
    for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  });

  it('finds the commands', () => {
    expect(commands).toContain('npx sidelight --help');
    expect(commands.length).toBeGreaterThan(15);
  });

  it(".ci/run runs exactly the README's test command", () => {
    const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8').trim().split('\n');
    const development = /## Development\n+```sh\n(.*)\n```/.exec(README)?.[1];
    expect(development).toBe('npm test');
    expect(ci.at(-1)).toBe(development);
  });

  it('runs every command that can run here, in order, the demo\'s too, and names the reason for each that cannot', { timeout: 180_000 }, async () => {
    [app, api, otlp] = await Promise.all([startTestApp(), startTestApp(), startOtlpReceiver()]);
    const [ingress, egress, admin] = await Promise.all([freePort(), freePort(), freePort()]);
    const ports: Record<string, number> = { 3000: app.port, 15080: ingress, 15081: egress, 15090: admin, 4318: otlp.port };
    const swap = (command: string) =>
      command
        .replace(/\b(3000|15080|15081|15090|4318)\b/g, (p) => String(ports[p]))
        .replaceAll('https://api.stripe.com', api!.url)
        .replaceAll('localhost', '127.0.0.1')
        .replace(LIVE_VIEW, `$& --admin 127.0.0.1:${admin}`);
    const dir = scratchClone();
    const prefix = mkdtempSync(join(tmpdir(), 'sidelight-npm-prefix-'));
    scratch.push(dir, prefix);
    // npm hands its own settings down as npm_config_* (its global prefix among them): none may leak
    // into the README's npm commands, or `npm install -g .` would install into the real prefix.
    const base: Record<string, string> = { PATH: `${join(prefix, 'bin')}:${process.env.PATH}`, npm_config_prefix: prefix };
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(SIDELIGHT_|OTEL_|npm_|PATH$)/i.test(k)) base[k] = v;
    const env = {
      ...base,
      SIDELIGHT_INGRESS: `127.0.0.1:${ingress}`,
      SIDELIGHT_EGRESS: `127.0.0.1:${egress}`,
      SIDELIGHT_ADMIN: `127.0.0.1:${admin}`,
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    };

    const start = (command: string, withEnv: Record<string, string> = env): Background => {
      const proc = spawn('bash', ['-c', command], { cwd: dir, env: withEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      proc.stdout!.on('data', (d: Buffer) => (output += d));
      proc.stderr!.on('data', (d: Buffer) => (output += d));
      const exited = new Promise<number | string>((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
      const b = { command, proc, output: () => output, exited };
      background.push(b);
      return b;
    };
    const waitFor = (b: Background, text: string) =>
      new Promise<void>((resolve, reject) => {
        const check = () => b.output().includes(text) && resolve();
        b.proc.stdout!.on('data', check);
        check();
        void b.exited.then((code) => reject(new Error(`${b.command} exited (${code}) before "${text}":\n${b.output()}`)));
      });
    const run = async (command: string) => {
      const b = start(`set -o pipefail; ${command}`);
      const code = await b.exited;
      expect(code, `${command}\n${b.output()}`).toBe(0);
      return b.output();
    };

    /** the sidelight (or demo) running now, and the live views following it: the next one replaces them */
    let server: Background | undefined;
    let followers: Background[] = [];
    const stopAll = async () => {
      for (const f of followers) expect(f.proc.exitCode, `${f.command}\n${f.output()}`).toBeNull();
      for (const b of [...followers, server]) if (b) stop(b);
      await Promise.all([...followers, server].map((b) => b?.exited));
      followers = [];
    };
    const replaceServer = async (next: Background, ready: string) => {
      await stopAll();
      server = next;
      await waitFor(server, ready);
    };
    /** a live view connects: `stat --watch` draws its first table, `tap` counts as a tap client (or it exits, and says why) */
    const follow = async (command: string) => {
      const follower = start(command);
      followers.push(follower);
      const adminUrl = /--admin (\S+)/.exec(command)![1].replace(/^(?!http)/, 'http://');
      const taps = followers.filter((f) => / tap\b/.test(f.command)).length;
      await until(async () => {
        expect(follower.proc.exitCode, `${command}\n${follower.output()}`).toBeNull();
        if (/ stat\b/.test(command)) return follower.output().includes('ROUTE');
        const metrics = await send(`${adminUrl}/metrics`);
        return Number(/^sidelight_tap_clients (\d+)/m.exec(metrics.body)?.[1]) >= taps;
      }, 10_000, `${command} to connect`);
    };
    const runOne = async (command: string) => {
      if (SERVER.test(command)) return replaceServer(start(command), '"msg":"listening"');
      if (FOLLOWER.test(command)) return follow(command);
      const browser = BROWSER.exec(command);
      if (browser) return run(`curl -sf ${browser[1]} -o /dev/null`);
      if (INTO_KUBECTL.test(command)) {
        const manifests = parseAllDocuments(await run(command.replace(INTO_KUBECTL, ''))).map((d) => d.toJS() as { kind?: string });
        expect(manifests.map((m) => m.kind)).toContain('Deployment');
        expect(JSON.stringify(manifests)).toContain(`"image":"registry.example.com/sidelight:0.1.0"`);
        return;
      }
      const output = await run(command);
      const status = /^curl -i\b/.test(command) ? Number(/^HTTP\/[\d.]+ (\d{3})/m.exec(output)?.[1]) : 0;
      expect(status, `${command}\n${output}`).toBeLessThan(500);
    };
    /** npm run demo, then what it says to try */
    const demo = async () => {
      const offset = await freeDemoOffset();
      const started = start('node deploy/examples/demo.mjs', { ...base, DEMO_PORT_OFFSET: String(offset) });
      await replaceServer(started, 'Ctrl-C drains sidelight');
      const tries = commandLines(/Try:\n([\s\S]*?)\nCtrl-C/.exec(started.output())![1]);
      expect(tries.length).toBeGreaterThan(5);
      for (const command of tries) await runOne(command);
      return tries;
    };

    const notHere: string[] = [];
    const demoTries: string[] = [];
    for (const command of commands) {
      const reason = NOT_HERE.find(([pattern]) => pattern.test(command))?.[1];
      if (reason) notHere.push(`${command}: ${reason}`);
      else if (DEMO.test(command)) demoTries.push(...(await demo()));
      else await runOne(swap(command));
    }
    await stopAll();

    // Only the README's own install put `sidelight` on PATH.
    expect((await run('command -v sidelight')).trim()).toBe(join(prefix, 'bin', 'sidelight'));
    // The sidelights the README started exported spans where OTEL_EXPORTER_OTLP_ENDPOINT says (flushed on exit).
    expect(otlp.spans.length).toBeGreaterThan(0);
    expect(demoTries.some((c) => / tap\b/.test(c))).toBe(true);
    // Most of the README runs here; the rest is what NOT_HERE names.
    expect(notHere.length).toBeLessThan(commands.length - notHere.length);
  });
});
