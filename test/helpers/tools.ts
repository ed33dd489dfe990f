// The external tools some tests drive: promtool, prometheus, kubectl, curl and Debian's Chromium. On a
// developer's machine a missing tool skips the tests that need it, saying which tool and how to
// install it; with CI=true a missing tool fails them instead, so CI can never pass by skipping.
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'vitest';

export interface Tool {
  /** a command on PATH, or an absolute path */
  binary: string;
  install: string;
}

export const PROMTOOL: Tool = { binary: 'promtool', install: 'apt-get install prometheus' };
export const PROMETHEUS: Tool = { binary: 'prometheus', install: 'apt-get install prometheus' };
export const KUBECTL: Tool = { binary: 'kubectl', install: 'apt-get install kubectl' };
export const CURL: Tool = { binary: 'curl', install: 'apt-get install curl' };
export const CHROMIUM: Tool = { binary: '/usr/bin/chromium', install: 'apt-get install chromium' };

export function hasBinary(name: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', name]).status === 0;
}

/** Why the tests that need `tool` cannot run here; undefined when they can. With CI=true a missing tool throws. */
export function missing(tool: Tool): string | undefined {
  if (hasBinary(tool.binary)) return undefined;
  const why = `${tool.binary} is not installed: ${tool.install} (.ci/run does)`;
  if (process.env.CI === 'true') throw new Error(`${why}; with CI=true a missing tool fails the tests that need it`);
  return why;
}

/** The first line of a test that needs `tool`: it is skipped, with the reason, when the tool is missing. */
export function needTool(ctx: TestContext, tool: Tool): void {
  const why = missing(tool);
  if (!why) return;
  // the default reporter shows a skipped test's name but not its note
  console.warn(`SKIPPED "${ctx.task.name}": ${why}`);
  ctx.skip(why);
}
