#!/usr/bin/env node
// The command line: parse, load config once, hand typed objects to the rest.
import { Command, CommanderError, Option } from 'commander';
import { describeConfig } from './config/describe.js';
import { ConfigError, loadConfig, type Overrides } from './config/load.js';
import { DEFAULT_CONFIG_MAP, DEFAULT_IMAGE, runInject, type InjectCommandOptions } from './inject/command.js';
import { InjectError } from './inject/inject.js';
import { ListenError } from './proxy/listener.js';
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
