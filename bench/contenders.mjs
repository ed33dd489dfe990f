// The rows of the benchmark, one object each: add a row by adding an object.
// start(ctx) returns how to spawn the contender; ctx gives the port to listen on, the upstream
// URL, the OTLP sink URL and a temp dir. `path` is what the load generator requests.
import { existsSync, writeFileSync } from 'node:fs';
import { buildSync } from 'esbuild';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { has, imageNodeOptions, merge } from './lib.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const CLI = here('../dist/cli.js');
const node = process.execPath;
/** sidelight runs with the image's NODE_OPTIONS (its V8 heap settings) when the bench runs on the image's Node line */
const NODE_OPTIONS = imageNodeOptions();

/** sidelight with request id + access log on (to /dev/null), tracing off, metrics off, plus `extra`. */
export function sidelight(name, extra = {}, { via = 'ingress', env = {}, note = '' } = {}) {
  return {
    name,
    group: 'sidelight',
    note,
    path: via === 'egress' ? '/bench/' : '/',
    start(ctx) {
      const listener = `127.0.0.1:${ctx.port}`;
      const base = {
        service: 'bench',
        ingress: { listen: via === 'ingress' ? listener : '127.0.0.1:0', app: ctx.upstream, timeout: '30s' },
        egress: { listen: via === 'egress' ? listener : '127.0.0.1:0' },
        admin: { listen: `127.0.0.1:${ctx.adminPort}` },
        tracing: { exporter: 'none' },
        metrics: { enabled: false },
        logging: { level: 'info', accessLog: true },
      };
      const file = join(ctx.tmp, `${name}.json`);
      writeFileSync(file, JSON.stringify(merge(base, typeof extra === 'function' ? extra(ctx) : extra)));
      return { cmd: node, args: [...(ctx.nodeArgs ?? []), CLI, 'run', '--config', file], env: { NODE_OPTIONS, OTEL_EXPORTER_OTLP_ENDPOINT: ctx.sinkUrl, ...env } };
    },
  };
}

/**
 * sidelight as a user gets it without a config file: request id, access log, RED metrics, spans
 * at 1.0 over OTLP to `collector` ('sink' = the bench's live sink, 'dead' = a port nothing listens on).
 */
export function sidelightDefault(name, collector, note) {
  return {
    name,
    group: 'sidelight',
    note,
    path: '/',
    start(ctx) {
      const endpoint = collector === 'dead' ? `http://127.0.0.1:${ctx.deadPort}` : ctx.sinkUrl;
      const args = ['run', '--app', ctx.upstream, '--ingress', `127.0.0.1:${ctx.port}`, '--egress', '127.0.0.1:0', '--admin', `127.0.0.1:${ctx.adminPort}`];
      return { cmd: node, args: [...(ctx.nodeArgs ?? []), CLI, ...args], env: { NODE_OPTIONS, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint } };
    },
  };
}

/** A GET /tap client that reads every line as fast as it comes: the live view's cost while someone watches. */
function attachTapClient(ctx) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: ctx.adminPort, path: '/tap' }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`GET /tap answered ${res.statusCode}`));
      res.resume();
      resolve(() => req.destroy());
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * bench/least.ts with FEATURES: the features' own work written inline on the floor, with
 * sidelight's span pipeline and metrics; bundled by esbuild on first use.
 */
function least(name, features, note) {
  return {
    name,
    group: 'node',
    note,
    path: '/',
    start(ctx) {
      const out = join(ctx.tmp, 'least.mjs');
      if (!existsSync(out)) buildSync({ entryPoints: [here('./least.ts')], outfile: out, bundle: true, format: 'esm', platform: 'node', banner: { js: REQUIRE_BANNER }, logLevel: 'warning' });
      return { cmd: node, args: [...(ctx.nodeArgs ?? []), out], env: { PORT: String(ctx.port), UPSTREAM: ctx.upstream, FEATURES: features, OTEL_EXPORTER_OTLP_ENDPOINT: ctx.sinkUrl } };
    },
  };
}
const REQUIRE_BANNER = "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

const nodePeer = (name, script, env = {}) => ({
  name,
  group: 'node',
  path: '/',
  start: (ctx) => ({ cmd: node, args: [...(ctx.nodeArgs ?? []), here(script)], env: { PORT: String(ctx.port), UPSTREAM: ctx.upstream, ...env } }),
});

export const contenders = [
  sidelight('sidelight', {}, { note: 'request id + access log' }),
  sidelightDefault('sidelight-default', 'sink', 'no config file: request id, access log, metrics, spans 1.0 to a live collector'),
  sidelightDefault('sidelight-default-dead', 'dead', 'the same, collector refusing connections'),
  sidelight('sidelight-notap', { admin: { tap: { maxClients: 0 } } }, { note: 'request id + access log, live view off' }),
  { ...sidelight('sidelight-tap', {}, { note: 'request id + access log, one GET /tap client reading' }), attach: attachTapClient },
  sidelight('sidelight-nolog', { logging: { accessLog: false } }, { note: 'request id only, no access log' }),
  sidelight('sidelight-metrics', { metrics: { enabled: true } }, { note: '+ RED metrics' }),
  sidelight('sidelight-trace-0.01', { tracing: { exporter: 'otlp', sampleRatio: 0.01 } }, { note: '+ spans, 1 % sampled, OTLP' }),
  sidelight('sidelight-trace-1.0', { tracing: { exporter: 'otlp', sampleRatio: 1 } }, { note: '+ spans, all sampled, OTLP' }),
  // a limit the load never reaches: the cost of taking a token, per client address (a Map lookup and an LRU move)
  sidelight('sidelight-ratelimit', { ingress: { rateLimit: { rps: 1e9, burst: 1e9, key: 'client' } } }, { note: '+ ingress.rateLimit per client, never reached' }),
  sidelight(
    'sidelight-egress',
    (ctx) => ({
      metrics: { enabled: true },
      egress: { upstreams: { bench: { url: ctx.upstream, timeout: '10s', connections: 64, retry: { attempts: 2 }, breaker: { enabled: true } } } },
    }),
    { via: 'egress', note: 'egress /bench/: breaker + retry + metrics' },
  ),
  sidelight(
    'sidelight-egress-ratelimit',
    (ctx) => ({
      metrics: { enabled: true },
      egress: {
        upstreams: {
          bench: { url: ctx.upstream, timeout: '10s', connections: 64, retry: { attempts: 2 }, breaker: { enabled: true }, rateLimit: { rps: 1e9, burst: 1e9, maxWait: '1s' } },
        },
      },
    }),
    { via: 'egress', note: 'egress /bench/: breaker + retry + metrics + a rateLimit never reached' },
  ),
  nodePeer('floor', './floor.mjs'),
  least('least-none', '', 'bench/least.ts with no feature: reads as the floor, or the harness is off'),
  least('least-id', 'id', 'the floor + request id, inline'),
  least('least-id-log', 'id,log', 'the floor + request id + access log, inline: no pipeline'),
  least('least-id-log-trace', 'id,log,trace', '+ the server span at 1.0, inline, through sidelight\'s span pipeline'),
  least('least-default', 'id,log,metrics,trace', 'what the default config does, inline: id, log, metrics, span'),
  nodePeer('@fastify/http-proxy', './peers/fastify-proxy.mjs'),
  nodePeer('http-proxy', './peers/http-proxy.mjs', { PEER: 'http-proxy' }),
  nodePeer('http-proxy-3', './peers/http-proxy.mjs', { PEER: 'http-proxy-3' }),
  {
    name: 'nginx',
    group: 'reference',
    path: '/',
    available: () => has('/usr/sbin/nginx'),
    start(ctx) {
      const conf = join(ctx.tmp, 'nginx-proxy.conf');
      writeFileSync(conf, nginxConf(ctx.tmp, 'proxy', ctx.port, `
        location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }`, `
      upstream up { server ${new URL(ctx.upstream).host}; keepalive 64; }`));
      return { cmd: '/usr/sbin/nginx', args: ['-c', conf, '-p', ctx.tmp] };
    },
  },
  {
    name: 'haproxy',
    group: 'reference',
    path: '/',
    available: () => has('/usr/sbin/haproxy'),
    start(ctx) {
      const conf = join(ctx.tmp, 'haproxy.cfg');
      writeFileSync(
        conf,
        `global\n  nbthread 1\n  log stderr local0 emerg\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n` +
          `  option http-keep-alive\nfrontend f\n  bind 127.0.0.1:${ctx.port}\n  default_backend b\n` +
          `backend b\n  http-reuse always\n  server s1 ${new URL(ctx.upstream).host}\n`,
      );
      return { cmd: '/usr/sbin/haproxy', args: ['-db', '-f', conf] };
    },
  },
];

/** A single-process nginx (no master), so its CPU is one /proc entry. */
export function nginxConf(tmp, tag, port, locations, httpExtra = '') {
  return `daemon off;
master_process off;
worker_processes 1;
pid ${join(tmp, `nginx-${tag}.pid`)};
error_log ${join(tmp, `nginx-${tag}.err`)} error;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 65;
  client_body_temp_path ${join(tmp, `body-${tag}`)};
  proxy_temp_path ${join(tmp, `proxy-${tag}`)};
  ${httpExtra}
  server {
    listen 127.0.0.1:${port} reuseport;
    ${locations}
  }
}
`;
}
