// The `inject` command's edge: read FILE or stdin, check the options, print YAML on stdout and
// warnings on stderr. Bad input or options are usage errors (exit 2) with one clear message.
import { readFileSync } from 'node:fs';
import { DEFAULT_CONFIG_MAP, DEFAULT_IMAGE } from './defaults.js';
import { inject, InjectError } from './inject.js';

export interface InjectCommandOptions {
  image?: string;
  appPort?: string;
  appProtocol?: string;
  configMap?: string;
  classic?: boolean;
}


/** DNS-1123 subdomain: what Kubernetes accepts as a ConfigMap name. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function runInject(file: string | undefined, options: InjectCommandOptions): void {
  let appPort: number | undefined;
  if (options.appPort !== undefined) {
    appPort = Number(options.appPort);
    if (!/^\d+$/.test(options.appPort) || appPort < 1 || appPort > 65535) throw new InjectError(`--app-port: "${options.appPort}" is not a port (1-65535)`);
  }
  const appProtocol = options.appProtocol;
  if (appProtocol !== undefined && appProtocol !== 'http' && appProtocol !== 'h2c') throw new InjectError(`--app-protocol: "${appProtocol}" is not http or h2c`);
  const configMap = options.configMap ?? DEFAULT_CONFIG_MAP;
  if (configMap.length > 253 || !DNS_SUBDOMAIN.test(configMap)) throw new InjectError(`--config-map: "${configMap}" is not a valid ConfigMap name`);
  const image = options.image ?? DEFAULT_IMAGE;
  if (!image.trim() || /\s/.test(image)) throw new InjectError(`--image: "${image}" is not an image reference`);

  const result = inject(readInput(file), { image, appPort, appProtocol, configMap, classic: options.classic === true });
  for (const w of result.warnings) process.stderr.write(`sidelight inject: ${w}\n`);
  process.stdout.write(result.output);
}

function readInput(file: string | undefined): string {
  if (file === undefined || file === '-') {
    if (file === undefined && process.stdin.isTTY) throw new InjectError('no input: give a FILE, or pipe YAML into "sidelight inject -"');
    return readFileSync(0, 'utf8');
  }
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new InjectError(`cannot read "${file}": ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}
