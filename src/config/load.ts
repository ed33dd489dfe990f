// Builds the one effective config: defaults < file < SIDELIGHT_* env < flags.
// Everything below this module receives typed objects and never reads env or files.
import { readFileSync } from 'node:fs';
import type * as z from 'zod/mini';
import { VERSION } from '../version.js';
import { ConfigError } from './errors.js';
import { configSchema, type ParsedConfig, type UpstreamConfig } from './schema.js';
import { tracingSettings, type TracingSettings } from './tracing-env.js';
import { formatListen } from './values.js';

export { ConfigError };

export interface Upstream extends UpstreamConfig {
  name: string;
  hosts: string[];
  /** contents of the `ca` file, read once here so a bad path is a config error at startup */
  caPem?: string;
}

export interface Config extends Omit<ParsedConfig, 'service' | 'egress' | 'admin'> {
  service: string;
  egress: { listen: ParsedConfig['egress']['listen']; upstreams: Upstream[]; tunnels: ParsedConfig['egress']['tunnels'] };
  admin: { listen: ParsedConfig['admin']['listen']; token: string | undefined; tap: ParsedConfig['admin']['tap'] };
  /** the `tracing` section with the OTEL_* environment applied: what the span pipeline runs with */
  spans: TracingSettings;
  /** the config as written (file, environment and flags merged), before defaults: durations are shown from it as written */
  written?: unknown;
}

/** What the command line may override; names follow the flags. */
export interface Overrides {
  config?: string;
  app?: string;
  ingress?: string;
  egress?: string;
  admin?: string;
  upstream?: string[];
  logLevel?: string;
  service?: string;
}

type Env = Record<string, string | undefined>;
type Json = Record<string, unknown>;

export async function loadConfig(overrides: Overrides = {}, env: Env = process.env): Promise<Config> {
  const file = overrides.config ?? env.SIDELIGHT_CONFIG;
  const unset: UnsetVariables = new Map();
  const raw: Json = file ? (expandEnv(await readConfigFile(file), env, '', unset) as Json) : {};
  applyOverrides(raw, fromEnv(env));
  applyOverrides(raw, overrides);
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(formatIssues(result.error.issues, unset));
  return { ...finish(result.data, env), written: raw };
}

async function readConfigFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : 'unreadable';
    throw new ConfigError(`config: cannot read "${file}": ${why} (${code ?? String(err)})`);
  }
  let doc: unknown;
  try {
    doc = await parseDocument(text);
  } catch (err) {
    throw new ConfigError(`config: "${file}" ${yamlErrorText(err as Error & { linePos?: Array<{ line: number; col: number }> })}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError(`config: "${file}" must hold a mapping of keys (service, ingress, egress, …)`);
  }
  return doc;
}

/** JSON as it is; YAML (a superset of JSON) only when needed, its parser loaded then (-40 ms start-up without a file). */
async function parseDocument(text: string): Promise<unknown> {
  if (text.trimStart().startsWith('{')) {
    try {
      return JSON.parse(text);
    } catch {
      // not strict JSON: YAML's parser gives the better message, or reads a YAML flow mapping
    }
  }
  const { parseYaml } = await import('./yaml.js');
  return parseYaml(text);
}

/** "line 2, column 8: not valid YAML: <the parser's reason>", on one line. */
function yamlErrorText(err: Error & { linePos?: Array<{ line: number; col: number }> }): string {
  const reason = err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '').replace(/:$/, '');
  const where = err.linePos?.[0];
  return `${where ? `line ${where.line}, column ${where.col}: ` : ''}not valid YAML or JSON: ${reason}`;
}

/** for each key, the `${VAR}`s in its value that were unset or empty: named when the key's value is refused */
type UnsetVariables = Map<string, string[]>;

/**
 * `${VAR}` and `${VAR:-default}` in string values. An unset or empty variable becomes "" (or the
 * default), so an optional key such as admin.token may name one; a key that then fails to
 * validate names the variable.
 */
function expandEnv(value: unknown, env: Env, key: string, unset: UnsetVariables): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, fallback?: string) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      unset.set(key, [...(unset.get(key) ?? []), `\${${name}} is ${found === undefined ? 'not set' : 'empty'}`]);
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => expandEnv(item, env, `${key}[${i}]`, unset));
  if (value && typeof value === 'object') {
    const out: Json = {};
    for (const [k, v] of Object.entries(value)) out[k] = expandEnv(v, env, key ? `${key}.${k}` : k, unset);
    return out;
  }
  return value;
}

function fromEnv(env: Env): Overrides {
  const list = env.SIDELIGHT_UPSTREAMS?.split(',').map((s) => s.trim()).filter(Boolean);
  return {
    app: env.SIDELIGHT_APP || undefined,
    ingress: env.SIDELIGHT_INGRESS || undefined,
    egress: env.SIDELIGHT_EGRESS || undefined,
    admin: env.SIDELIGHT_ADMIN || undefined,
    upstream: list?.length ? list : undefined,
    logLevel: env.SIDELIGHT_LOG_LEVEL || undefined,
    service: env.SIDELIGHT_SERVICE || undefined,
    adminToken: env.SIDELIGHT_ADMIN_TOKEN || undefined,
  } as Overrides;
}

function section(raw: Json, name: string): Json {
  const existing = raw[name];
  if (existing && typeof existing === 'object' && !Array.isArray(existing)) return existing as Json;
  const created: Json = {};
  raw[name] = created;
  return created;
}

function applyOverrides(raw: Json, o: Overrides & { adminToken?: string }): void {
  if (o.service) raw.service = o.service;
  if (o.app) section(raw, 'ingress').app = o.app;
  if (o.ingress) section(raw, 'ingress').listen = o.ingress;
  if (o.egress) section(raw, 'egress').listen = o.egress;
  if (o.admin) section(raw, 'admin').listen = o.admin;
  if (o.adminToken && !section(raw, 'admin').token) section(raw, 'admin').token = o.adminToken;
  if (o.logLevel) section(raw, 'logging').level = o.logLevel;
  for (const spec of o.upstream ?? []) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--upstream: "${spec}" must look like NAME=URL (e.g. stripe=https://api.stripe.com)`);
    const upstreams = section(section(raw, 'egress'), 'upstreams');
    const name = spec.slice(0, eq);
    upstreams[name] = { ...section(upstreams, name), url: spec.slice(eq + 1) };
  }
}

function keyOf(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[') || 'config';
}

function formatIssues(issues: z.core.$ZodIssue[], unset: UnsetVariables): string {
  return issues
    .map((issue) => {
      if (issue.code === 'unrecognized_keys') {
        return issue.keys.map((k) => `${keyOf([...issue.path, k])}: unknown key`).join('\n');
      }
      const key = keyOf(issue.path);
      // a record's key (an upstream's name): the schema's rule, not zod's "Invalid key in record"
      const message = issue.code === 'invalid_key' ? `"${String(issue.path.at(-1))}" is not a valid name: ${issue.issues.map((i) => i.message).join('; ')}` : issue.message;
      const variables = unset.get(key);
      return `${key}: ${variables ? `${variables.join(', ')}: ` : ''}${message}`;
    })
    .join('\n');
}

function finish(parsed: ParsedConfig, env: Env): Config {
  const upstreams: Upstream[] = Object.entries(parsed.egress.upstreams).map(([name, u]) => ({
    ...u,
    name,
    hosts: (u.hosts ?? [u.url.host]).map((h) => h.toLowerCase()),
    caPem: u.ca === undefined ? undefined : readCa(name, u.ca),
  }));
  for (const u of upstreams) checkHttp2(u);
  checkUnique(upstreams, parsed);
  checkCounterRoutes(upstreams, parsed);
  checkGrpcHealth(parsed);
  const service = parsed.service ?? (env.OTEL_SERVICE_NAME || 'app');
  // A route with limits of its own is a route: the route layer matches it like the others.
  const routes = [...parsed.ingress.routes];
  for (const template of Object.keys(parsed.ingress.routeTimeouts)) {
    if (!routes.some((r) => (typeof r === 'string' ? r : r.path) === template)) routes.push(template);
  }
  return {
    ...parsed,
    ingress: { ...parsed.ingress, routes },
    service,
    egress: { listen: parsed.egress.listen, upstreams, tunnels: parsed.egress.tunnels },
    admin: { listen: parsed.admin.listen, token: parsed.admin.token || undefined, tap: parsed.admin.tap },
    spans: tracingSettings({ tracing: parsed.tracing, service, version: VERSION }, env),
  };
}

/** The timeout keys set to 0, which means no limit: `sidelight check` says so for each. */
export function unlimitedTimeouts(config: Config): string[] {
  const keys: string[] = [];
  const limits = (prefix: string, d: { timeout?: number; idleTimeout?: number; maxDuration?: number }) => {
    for (const key of ['timeout', 'idleTimeout', 'maxDuration'] as const) if (d[key] === 0) keys.push(`${prefix}.${key}`);
  };
  limits('ingress', config.ingress);
  for (const [template, d] of Object.entries(config.ingress.routeTimeouts)) limits(`ingress.routeTimeouts."${template}"`, d);
  for (const u of config.egress.upstreams) if (u.requestTimeout === 0) keys.push(`egress.upstreams.${u.name}.requestTimeout`);
  return keys;
}

function readCa(name: string, file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`egress.upstreams.${name}.ca: cannot read "${file}": ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError(`egress.upstreams.${name}.ca: "${file}" holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  return pem;
}

/** HTTP/2 is offered by ALPN inside TLS, or spoken by prior knowledge to an h2c:// origin */
function checkHttp2(u: Upstream): void {
  const key = `egress.upstreams.${u.name}.http2`;
  if (u.url.h2c && u.http2 === false) throw new ConfigError(`${key}: an h2c:// upstream speaks only HTTP/2; for HTTP/1.1 write "http://${u.url.host}"`);
  if (u.http2 && u.url.protocol === 'http:' && !u.url.h2c) {
    throw new ConfigError(`${key}: HTTP/2 without TLS cannot be negotiated; write "h2c://${u.url.host}" if the upstream speaks it by prior knowledge`);
  }
}

/** the gRPC health check is an HTTP/2 call: it needs an h2c:// app, and it replaces readiness.path */
function checkGrpcHealth(parsed: ParsedConfig): void {
  const { readiness, ingress } = parsed;
  if (!readiness.grpcHealth) return;
  if (!ingress.app.h2c) {
    throw new ConfigError(`readiness.grpcHealth: the gRPC health check speaks HTTP/2 without TLS, so ingress.app must be an h2c:// URL (it is "${ingress.app.origin}"; write "h2c://${ingress.app.host}")`);
  }
  if (readiness.path !== undefined) throw new ConfigError('readiness.grpcHealth: set readiness.path or readiness.grpcHealth, not both: each is the whole app check');
}

/** a derived counter's route must be one of its listener's templates, or it would never count */
function checkCounterRoutes(upstreams: Upstream[], parsed: ParsedConfig): void {
  for (const [name, c] of Object.entries(parsed.metrics.counters)) {
    if (c.route === undefined) continue;
    const upstream = c.upstream === undefined ? undefined : upstreams.find((u) => u.name === c.upstream);
    if (c.upstream !== undefined && upstream === undefined) throw new ConfigError(`metrics.counters.${name}.upstream: no upstream is named "${c.upstream}"`);
    const templates = upstream ? upstream.routes : c.listener === 'ingress' ? parsed.ingress.routes.map((r) => (typeof r === 'string' ? r : r.path)) : undefined;
    if (templates === undefined) throw new ConfigError(`metrics.counters.${name}.route: name the upstream (or listener: ingress) whose routes it is one of`);
    if (!templates.includes(c.route)) {
      const key = upstream ? `egress.upstreams.${upstream.name}.routes` : 'ingress.routes';
      throw new ConfigError(`metrics.counters.${name}.route: "${c.route}" is not in ${key}; add it there so requests get that route`);
    }
  }
}

function checkUnique(upstreams: Upstream[], parsed: ParsedConfig): void {
  const ports = new Map<string, string>();
  const claim = (key: string, address: { host: string; port: number } | undefined) => {
    if (!address || address.port === 0) return;
    const id = formatListen(address);
    const other = ports.get(id) ?? ports.get(`*:${address.port}`);
    if (other) throw new ConfigError(`${key}: ${id} is also used by ${other}`);
    ports.set(id, key);
  };
  claim('ingress.listen', parsed.ingress.listen);
  claim('egress.listen', parsed.egress.listen);
  claim('admin.listen', parsed.admin.listen);
  const hosts = new Map<string, string>();
  for (const u of upstreams) {
    claim(`egress.upstreams.${u.name}.listen`, u.listen);
    for (const host of u.hosts) {
      const other = hosts.get(host);
      if (other) throw new ConfigError(`egress.upstreams.${u.name}.hosts: "${host}" is already routed to ${other}`);
      hosts.set(host, u.name);
    }
  }
}
