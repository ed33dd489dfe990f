// `sidelight stat`: GET /stats as tables, per ingress route, per ingress gRPC method (when there
// are gRPC calls), per upstream and (when any are allowed) per upstream's CONNECT tunnels, like
// `linkerd viz stat`; --watch redraws it, --json prints the document as it came.
import { duration } from '../config/values.js';
import type { StatsFigures, StatsReport } from '../stats/live-stats.js';
import { adminClient, CliError, type AdminOptions } from './admin-client.js';
import { paint, statusColour, table, type Paint } from './style.js';

export interface StatCommandOptions extends AdminOptions {
  watch?: boolean;
  interval?: string;
  window?: string;
  json?: boolean;
}

type Row = Partial<StatsFigures> & { route?: string; upstream?: string; breaker?: string; inflight?: number };

const ms = (v: number | null | undefined) => (v === null || v === undefined ? '-' : v >= 1000 ? `${(v / 1000).toFixed(2)}s` : `${v.toFixed(v < 10 ? 1 : 0)}ms`);

function success(p: Paint, ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined) return '-';
  const text = `${(ratio * 100).toFixed(2)}%`;
  return ratio >= 0.99 ? p.green(text) : ratio >= 0.95 ? p.yellow(text) : p.red(text);
}

function zscore(p: Paint, z: number | null | undefined): string {
  if (z === null || z === undefined) return p.dim('-');
  const text = z.toFixed(1);
  return z > 3 ? p.red(text) : z > 2 ? p.yellow(text) : text;
}

/** the most frequent statuses since start: "OK 120, UNAVAILABLE 3" */
function statusNames(p: Paint, statuses: StatsReport['grpcMethods'][number]['statuses']): string {
  return statuses.map((s) => `${s.status === 'OK' ? s.status : p.yellow(s.status || 'none')} ${s.calls}`).join(', ');
}

function breaker(p: Paint, state: string | undefined): string {
  if (state === 'open') return p.red('open');
  if (state === 'half_open') return p.yellow('half-open');
  return statusColour(p, 200)(state ?? '-');
}

export function formatStats(doc: StatsReport, windowName: '10s' | '1m', p: Paint): string {
  const state = `${doc.ready ? p.green('ready') : p.red('not ready')}${doc.draining ? `, ${p.yellow('draining')}` : ''}`;
  const inflight = doc.listeners.map((l) => `${l.listener} ${l.inflight}`).join(', ');
  const out = [`${p.bold('sidelight')} ${state} · in flight: ${inflight} · window ${windowName} · ${doc.time}`, ''];
  if (!doc.metrics) out.push(p.yellow('metrics.enabled is false: no rates or latencies'), '');
  const figures = (r: Row) => {
    const w = r[windowName];
    return [w?.rate != null ? w.rate.toFixed(1) : '-', success(p, w?.successRatio), ms(w?.p50Ms), ms(w?.p95Ms), ms(w?.p99Ms)];
  };
  const routes = doc.routes.map((r) => [r.route || p.dim('(no route)'), ...figures(r), zscore(p, r.zscore)]);
  out.push(table(['ROUTE (ingress)', 'RPS', 'SUCCESS', 'P50', 'P95', 'P99', 'Z'], routes, new Set([1, 2, 3, 4, 5, 6])));
  if (!routes.length) out.push(p.dim('no ingress traffic yet'));
  out.push('');
  const grpc = (doc.grpcMethods ?? []).map((g) => [g.method, ...figures(g), statusNames(p, g.statuses), zscore(p, g.zscore)]);
  if (grpc.length) out.push(table(['GRPC METHOD (ingress)', 'RPS', 'SUCCESS', 'P50', 'P95', 'P99', 'STATUSES', 'Z'], grpc, new Set([1, 2, 3, 4, 5, 7])), '');
  const upstreams = doc.upstreams.map((u) => [
    u.upstream ?? '',
    breaker(p, u.breaker),
    String(u.inflight ?? 0),
    ...figures(u),
    String(u[windowName]?.retries ?? 0),
    zscore(p, u.zscore),
  ]);
  if (upstreams.length) {
    out.push(table(['UPSTREAM (egress tries)', 'BREAKER', 'INFLIGHT', 'RPS', 'SUCCESS', 'P50', 'P95', 'P99', 'RETRIES', 'Z'], upstreams, new Set([2, 3, 4, 5, 6, 7, 8, 9])));
  } else {
    out.push(p.dim('no upstreams configured'));
  }
  const tunnels = formatTunnels(doc.tunnels ?? [], windowName, p);
  if (tunnels) out.push('', tunnels);
  const limits = rateLimitRows(doc, p);
  if (limits.length) out.push('', table(['RATE LIMIT', 'RPS', 'BURST', 'TOKENS', 'QUEUED', 'WAITED', 'AVG WAIT', 'REFUSED', 'KEYS'], limits, new Set([1, 2, 3, 4, 5, 6, 7, 8])));
  return `${out.join('\n')}\n`;
}

const bytesPerSecond = (v: number | null | undefined): string =>
  v == null ? '-' : v >= 1_048_576 ? `${(v / 1_048_576).toFixed(1)}MiB/s` : v >= 1024 ? `${(v / 1024).toFixed(1)}KiB/s` : `${Math.round(v)}B/s`;

/** The CONNECT tunnels table; "" when no upstream takes tunnels (or metrics are off). */
function formatTunnels(rows: StatsReport['tunnels'], windowName: '10s' | '1m', p: Paint): string {
  if (!rows.length) return '';
  const lines = rows.map((t) => {
    const w = t[windowName];
    return [t.upstream, String(t.open), w.rate != null ? w.rate.toFixed(1) : '-', success(p, w.establishedRatio), bytesPerSecond(w.sentBytesPerSecond), bytesPerSecond(w.receivedBytesPerSecond)];
  });
  return table(['TUNNELS (egress CONNECT)', 'OPEN', 'OPENS/S', 'ESTABLISHED', 'SENT', 'RECEIVED'], lines, new Set([1, 2, 3, 4, 5]));
}

/** one row per limiter: the upstreams' (tokens, queue, waits) and the ingress ones (keys) */
function rateLimitRows(doc: StatsReport, p: Paint): string[][] {
  const refused = (n: number) => (n > 0 ? p.yellow(String(n)) : '0');
  const rows = doc.upstreams.flatMap((u) => {
    const r = u.rateLimit;
    if (!r) return [];
    return [[`upstream ${u.upstream}`, String(r.rps), String(r.burst), r.tokens.toFixed(1), String(r.queued), String(r.waited), r.waited ? ms(r.waitedMs / r.waited) : '-', refused(r.refused), '-']];
  });
  for (const l of doc.rateLimits ?? []) {
    const keyed = l.key === 'none' ? '-' : `${l.keys}${l.evicted ? ` (+${l.evicted} forgotten)` : ''}`;
    rows.push([`ingress ${l.scope}`, String(l.rps), String(l.burst), l.tokens === undefined ? '-' : l.tokens.toFixed(1), '-', '-', '-', refused(l.refused), keyed]);
  }
  return rows;
}

export async function runStat(options: StatCommandOptions): Promise<void> {
  const windowName = options.window ?? '1m';
  if (windowName !== '10s' && windowName !== '1m') throw new CliError(`--window: "${windowName}" must be 10s or 1m`, 2);
  const interval = duration.safeParse(options.interval ?? '2s');
  const every = interval.success ? interval.data : NaN;
  if (!(every >= 100)) throw new CliError(`--interval: "${options.interval}" must be a duration of at least 100ms (e.g. 2s)`, 2);
  const client = adminClient(options);
  const p = paint(process.stdout);
  for (;;) {
    const doc = (await (await client.get('/stats')).body.json()) as StatsReport;
    const text = options.json ? `${JSON.stringify(doc)}\n` : formatStats(doc, windowName, p);
    // On a terminal, --watch redraws in place; piped, each report follows the last.
    process.stdout.write(options.watch && p.enabled && !options.json ? `\x1b[H\x1b[2J${text}` : text);
    if (!options.watch) return;
    await new Promise((resolve) => setTimeout(resolve, every));
  }
}
