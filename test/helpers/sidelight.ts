// Starts the built CLI (dist/cli.js) as a child process, the way a user runs it, and waits for
// its "listening" log line to learn the bound addresses (tests bind port 0 everywhere).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export type LogLine = Record<string, unknown> & { msg?: string };

export interface RunningSidelight {
  proc: ChildProcess;
  /** http://127.0.0.1:PORT for each listener: ingress, egress, admin and any dedicated upstream listener */
  url: Record<string, string>;
  ingress: string;
  egress: string;
  admin: string;
  /** parsed JSON log lines seen so far */
  logs: LogLine[];
  stderr(): string;
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** resolves with the exit code (or the signal name) */
  exited: Promise<number | string>;
  /** SIGTERM (by default) and wait for the exit */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export interface StartOptions {
  /** config object (written as YAML to a temp file) or a path */
  config?: Record<string, unknown> | string;
  args?: string[];
  env?: Record<string, string | undefined>;
  /** don't wait for the listening line (for tests of startup failures) */
  noWait?: boolean;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

export function writeConfig(config: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'sidelight-test-'));
  const file = join(dir, 'sidelight.yaml');
  writeFileSync(file, stringify(config));
  return file;
}

/** Runs the CLI to completion: for check, bad config and usage tests. */
export function runCli(args: string[], env: Record<string, string | undefined> = {}, input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [CLI, ...args], { env: { ...cleanEnv(), ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d));
    proc.stderr.on('data', (d: Buffer) => (stderr += d));
    proc.on('close', (code) => resolve({ code, stdout, stderr }));
    if (input !== undefined) proc.stdin.end(input);
    else proc.stdin.end();
  });
}

/** The test runner's environment minus anything that would change sidelight's behaviour. */
function cleanEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SIDELIGHT_') && !k.startsWith('OTEL_')) env[k] = v;
  // Tests never export spans unless they ask to.
  env.OTEL_TRACES_EXPORTER = 'none';
  return env;
}

export async function startSidelight(options: StartOptions = {}): Promise<RunningSidelight> {
  const args = ['run', '--ingress', '127.0.0.1:0', '--egress', '127.0.0.1:0', '--admin', '127.0.0.1:0'];
  if (options.config) args.push('--config', typeof options.config === 'string' ? options.config : writeConfig(options.config));
  args.push(...(options.args ?? []));
  const proc = spawn(process.execPath, [CLI, ...args], { env: { ...cleanEnv(), ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(proc);
  const logs: LogLine[] = [];
  const waiters: Array<{ predicate: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  let stderr = '';
  let buffered = '';
  proc.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) !== -1) {
      const text = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { msg: 'non-json', text };
      }
      logs.push(line);
      for (const w of [...waiters]) {
        if (w.predicate(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  proc.stderr!.on('data', (d: Buffer) => (stderr += d));
  const exited = new Promise<number | string>((resolve) =>
    proc.on('exit', (code, signal) => {
      running.delete(proc);
      resolve(code ?? signal ?? -1);
    }),
  );

  const waitForLog = (predicate: (l: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> => {
    const found = logs.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching log line within ${timeoutMs} ms; stderr: ${stderr}\nlogs: ${JSON.stringify(logs.slice(-5))}`)), timeoutMs);
      waiters.push({
        predicate,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`sidelight exited (${code}) before the expected log line; stderr: ${stderr}`));
      });
    });
  };

  const url: Record<string, string> = {};
  if (!options.noWait) {
    const listening = await waitForLog((l) => l.msg === 'listening');
    for (const [key, value] of Object.entries(listening)) {
      if (typeof value === 'string' && /^[\d.]+:\d+$|^\[.*\]:\d+$/.test(value)) url[key] = `http://${value.replace(/^0\.0\.0\.0:/, '127.0.0.1:')}`;
    }
  }
  return {
    proc,
    url,
    ingress: url.ingress,
    egress: url.egress,
    admin: url.admin,
    logs,
    stderr: () => stderr,
    waitForLog,
    exited,
    stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}
