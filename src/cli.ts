#!/usr/bin/env node
// The command line: parse, load config once, hand typed objects to the rest.
import { Command, CommanderError, Option } from 'commander';
import { EXIT_USAGE, fail } from './cli/fail.js';
import type { StatCommandOptions } from './cli/stat-command.js';
import type { TapCommandOptions } from './cli/tap-command.js';
import type { Overrides } from './config/load.js';
import type { InjectCommandOptions } from './inject/command.js';
import { DEFAULT_CONFIG_MAP, DEFAULT_IMAGE } from './inject/defaults.js';
import { VERSION } from './version.js';

// Each command's code is imported when that command runs: `run` never loads the inject or
// live-view code, and `inject` never loads the proxy (start-up time is paid on every pod).

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Runs a live-view command, loaded only when asked for: `run` never imports it. */
async function live(load: () => Promise<void>): Promise<void> {
  const { CliError } = await import('./cli/admin-client.js');
  try {
    await load();
  } catch (err) {
    if (err instanceof CliError) fail(err.message, err.exitCode);
    throw err;
  }
}

const ADMIN_HELP = 'the admin URL (default http://127.0.0.1:15090)';
const TOKEN_HELP = 'admin token (default $SIDELIGHT_ADMIN_TOKEN)';

const program = new Command()
  .name('sidelight')
  .description('Sidecar observability proxy: request ids, traces, RED metrics, breakers and drain for any app')
  .version(VERSION, '-v, --version')
  .exitOverride()
  .showHelpAfterError();

/** The config's sources on the command line: `check` takes the same as `run`, to show what that run would use. */
const withConfigOptions = (command: Command) =>
  command
    .option('-c, --config <file>', 'config file (YAML or JSON); also SIDELIGHT_CONFIG')
    .option('--app <url>', 'the app behind the ingress listener (default http://127.0.0.1:8080)')
    .option('--ingress <addr>', 'ingress listen address: host:port, or a port on 0.0.0.0 (default 0.0.0.0:15080)')
    .option('--egress <addr>', 'egress listen address: host:port, or a port on 127.0.0.1 (default 127.0.0.1:15081)')
    .option('--admin <addr>', 'admin listen address: host:port, or a port on 0.0.0.0 (default 0.0.0.0:15090)')
    .option('--upstream <name=url>', 'an egress upstream, repeatable', collect)
    .addOption(new Option('--log-level <level>', 'log level').choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']));

withConfigOptions(program.command('run').description('run the sidecar')).action(async (options: Overrides) => (await import('./cli/run-command.js')).run(options));

withConfigOptions(program.command('check').description("validate the config and print the effective config a `run` with the same flags and environment would use (secrets redacted)")).action(
  async (options: Overrides) => (await import('./cli/run-command.js')).check(options),
);

program
  .command('inject')
  .description('add the sidelight sidecar to Kubernetes manifests (FILE or - for stdin); prints YAML on stdout')
  .argument('[file]', 'multi-document Kubernetes YAML; "-" or nothing reads stdin')
  .option('--image <image>', `sidelight image (default ${DEFAULT_IMAGE})`)
  .option('--app-port <port>', "the app's port (default: the app container's first containerPort, else 8080)")
  .option('--app-protocol <http|h2c>', "how the app speaks: h2c for gRPC (default: h2c when the app's port is named grpc… or has appProtocol grpc/h2c, else http)")
  .option('--config-map <name>', `ConfigMap holding sidelight.yaml (default ${DEFAULT_CONFIG_MAP})`)
  .option('--classic', 'a regular container instead of a native sidecar (clusters before Kubernetes 1.29)')
  .action(async (file: string | undefined, options: InjectCommandOptions) => {
    const { runInject } = await import('./inject/command.js');
    const { InjectError } = await import('./inject/inject.js');
    try {
      runInject(file, options);
    } catch (err) {
      if (err instanceof InjectError) fail(err.message);
      throw err;
    }
  });

program
  .command('tap')
  .description('follow live traffic: one line per finished exchange, from a running sidelight')
  .option('--admin <url>', ADMIN_HELP)
  .option('--token <token>', TOKEN_HELP)
  .option('--listener <name>', 'only this listener (ingress, egress, egress:NAME); repeatable', collect)
  .option('--route <template>', 'only this route template; repeatable', collect)
  .option('--upstream <name>', 'only this upstream ("app" for ingress); repeatable', collect)
  .option('--status <code|class>', 'only this status (503) or class (5xx); repeatable', collect)
  .option('--min-duration <duration>', 'only exchanges at least this slow (250ms, 1s)')
  .option('--request-id <id>', 'only this request id; repeatable', collect)
  .option('--failed', 'only failed exchanges: an error code or a 5xx')
  .option('--json', 'print the NDJSON records as they come')
  .action((options: TapCommandOptions) => live(async () => (await import('./cli/tap-command.js')).runTap(options)));

program
  .command('stat')
  .description('request rate, success ratio and latency per route and per upstream, from a running sidelight')
  .option('--admin <url>', ADMIN_HELP)
  .option('--token <token>', TOKEN_HELP)
  .option('-w, --watch', 'redraw every --interval')
  .option('--interval <duration>', 'how often --watch redraws (default 2s)')
  .option('--window <window>', 'figures over 10s or 1m (default 1m)')
  .option('--json', 'print the /stats document')
  .action((options: StatCommandOptions) => live(async () => (await import('./cli/stat-command.js')).runStat(options)));

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version exit 0; usage errors are exit 2 like bad config.
    process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE);
  }
  process.stderr.write(`sidelight: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
