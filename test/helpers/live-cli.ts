// A long-running CLI command (`sidelight tap`, `stat --watch`) as a user runs it, stdout piped,
// with a wait for what it prints.
import { spawn, type ChildProcess } from 'node:child_process';
import { until } from './http.js';
import { CLI } from './sidelight.js';

export interface LiveCli {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  waitForStdout(pattern: RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

/** Starts a long-running CLI command (tap, stat --watch) with its stdout piped. */
export function startCli(args: string[], env: Record<string, string> = {}): LiveCli {
  const proc = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d));
  proc.stderr!.on('data', (d: Buffer) => (err += d));
  const closed = new Promise<void>((resolve) => proc.on('close', () => resolve()));
  return {
    proc,
    stdout: () => out,
    stderr: () => err,
    waitForStdout: (pattern, timeoutMs = 10_000) =>
      until(() => pattern.exec(out)?.[0], timeoutMs, `${pattern} on stdout of "sidelight ${args[0]}"; got:\n${out}\n${err}`),
    stop: () => {
      proc.kill('SIGINT');
      return closed;
    },
  };
}
