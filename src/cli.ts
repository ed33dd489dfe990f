#!/usr/bin/env node
// The command line: parse, load config once, hand typed objects to the rest.
import { Command, CommanderError, Option } from 'commander';
import { describeConfig } from './config/describe.js';
import { ConfigError, loadConfig, type Overrides } from './config/load.js';
import { DEFAULT_CONFIG_MAP, DEFAULT_IMAGE, runInject, type InjectCommandOptions } from './inject/command.js';
import { InjectError } from './inject/inject.js';
import { ListenError } from './proxy/listener.js';
import type { StatCommandOptions } from './cli/stat-command.js';
import type { TapCommandOptions } from './cli/tap-command.js';
import { startSidecar } from './sidecar.js';
import { createLogger } from './telemetry/logger.js';
import { VERSION } from './version.js';

const EXIT_USAGE = 2;

function fail(message: string, code = EXIT_USAGE): never {
  process.stderr.write(`sidelight: ${message}\n`);
  process.exit(code);
}

function configOrExit(overrides: Overrides) {
  try {
    return loadConfig(overrides);
  } catch (err) {
    if (err instanceof ConfigError) fail(`config error:\n  ${err.message.replace(/\n/g, '\n  ')}`);
    throw err;
  }
}

async function run(options: Overrides): Promise<void> {
  const config = configOrExit(options);
  const log = createLogger(config.logging.level, config.service);
  let sidecar;
  try {
    sidecar = await startSidecar(config, log);
  } catch (err) {
    if (err instanceof ListenError || err instanceof ConfigError) fail(`config error:\n  ${err.message}`);
    throw err;
  }
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      sidecar.drain(signal);
      return;
    }
    log.logger.warn({ msg: 'second signal: stopping now', signal });
    log.flushSync();
    process.exit(1);
  };
  process.on('SIGTERM', onSignal).on('SIGINT', onSignal);
  const code = await sidecar.exited;
  log.logger.info({ msg: 'stopped', code });
  log.flushSync();
  process.exit(code);
}

function check(options: { config: string }): void {
  const config = configOrExit({ config: options.config });
  process.stdout.write(`${JSON.stringify(describeConfig(config), null, 2)}\n`);
}

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

program
  .command('run')
  .description('run the sidecar')
  .option('-c, --config <file>', 'config file (YAML or JSON); also SIDELIGHT_CONFIG')
  .option('--app <url>', 'the app behind the ingress listener (default http://127.0.0.1:8080)')
  .option('--ingress <addr>', 'ingress listen address (default 0.0.0.0:15080)')
  .option('--egress <addr>', 'egress listen address (default 127.0.0.1:15081)')
  .option('--admin <addr>', 'admin listen address (default 0.0.0.0:15090)')
  .option('--upstream <name=url>', 'an egress upstream, repeatable', collect)
  .addOption(new Option('--log-level <level>', 'log level').choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']))
  .action((options: Overrides) => run(options));

program
  .command('check')
  .description('validate a config file and print the effective config (secrets redacted)')
  .requiredOption('-c, --config <file>', 'config file (YAML or JSON)')
  .action(check);

program
  .command('inject')
  .description('add the sidelight sidecar to Kubernetes manifests (FILE or - for stdin); prints YAML on stdout')
  .argument('[file]', 'multi-document Kubernetes YAML; "-" or nothing reads stdin')
  .option('--image <image>', `sidelight image (default ${DEFAULT_IMAGE})`)
  .option('--app-port <port>', "the app's port (default: the app container's first containerPort, else 8080)")
  .option('--config-map <name>', `ConfigMap holding sidelight.yaml (default ${DEFAULT_CONFIG_MAP})`)
  .option('--classic', 'a regular container instead of a native sidecar (clusters before Kubernetes 1.29)')
  .action((file: string | undefined, options: InjectCommandOptions) => {
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
