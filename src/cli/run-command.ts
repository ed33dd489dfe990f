// `sidelight run` and `sidelight check`: load the config once at the edge, then start the
// sidecar or print the effective config. Loaded only for these commands.
import { describeConfig } from '../config/describe.js';
import { ConfigError, loadConfig, unlimitedTimeouts, type Overrides } from '../config/load.js';
import { ListenError } from '../proxy/listener.js';
import { startSidecar } from '../sidecar.js';
import { createLogger } from '../telemetry/logger.js';
import { fail } from './fail.js';

async function configOrExit(overrides: Overrides) {
  try {
    return await loadConfig(overrides);
  } catch (err) {
    if (err instanceof ConfigError) fail(`config error:\n  ${err.message.replace(/\n/g, '\n  ')}`);
    throw err;
  }
}

export async function run(options: Overrides): Promise<void> {
  const config = await configOrExit(options);
  const log = createLogger(config.logging.level, config.service);
  let sidecar;
  try {
    sidecar = await startSidecar(config, log);
  } catch (err) {
    if (err instanceof ConfigError) fail(`config error:\n  ${err.message}`);
    // Exit 1, not 2: the config is valid (`check` passes it); the host refused, and may not next time.
    if (err instanceof ListenError) fail(err.message, 1);
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

export async function check(options: Overrides): Promise<void> {
  const config = await configOrExit(options);
  process.stdout.write(`${JSON.stringify(describeConfig(config), null, 2)}\n`);
  for (const key of unlimitedTimeouts(config)) process.stderr.write(`${key}: 0 means no limit\n`);
}
