// `sidelight tap`: GET /tap as aligned, coloured lines on a terminal (plain when piped), or the
// raw NDJSON with --json. Filters go to the server as query parameters; it validates them.
import { createInterface } from 'node:readline';
import { UPSTREAM_NAME } from '../config/values.js';
import type { ExchangeRecord, TunnelRecord } from '../tap/record.js';
import { adminClient, CliError, type AdminOptions } from './admin-client.js';
import { padEnd, padStart, paint, statusColour, type Paint } from './style.js';

export interface TapCommandOptions extends AdminOptions {
  listener?: string[];
  route?: string[];
  upstream?: string[];
  status?: string[];
  minDuration?: string;
  requestId?: string[];
  failed?: boolean;
  json?: boolean;
}

/** The listener names records carry; any other value would match nothing and show nothing. */
function checkListeners(values: string[] = []): void {
  for (const name of values.flatMap((v) => v.split(','))) {
    if (name === 'ingress' || name === 'egress' || (name.startsWith('egress:') && UPSTREAM_NAME.test(name.slice('egress:'.length)))) continue;
    throw new CliError(`--listener: "${name}" is not a listener: use ingress, egress or egress:NAME (an upstream's own listener)`, 2);
  }
}

export function tapQuery(o: TapCommandOptions): string {
  checkListeners(o.listener);
  const q = new URLSearchParams();
  for (const [name, values] of [
    ['listener', o.listener],
    ['route', o.route],
    ['upstream', o.upstream],
    ['status', o.status],
    ['requestId', o.requestId],
  ] as const) {
    for (const v of values ?? []) q.append(name, v);
  }
  if (o.minDuration !== undefined) q.set('minDuration', o.minDuration);
  if (o.failed) q.set('failed', 'true');
  const text = q.toString();
  return text ? `/tap?${text}` : '/tap';
}

/** time, listener, method, status, duration and upstream: the columns every record kind shares */
function leadingColumns(r: { time: string; listener: string; method: string; status: number; durationMs: number; upstream: string }, p: Paint): string {
  const time = p.dim(r.time.slice(11, 23));
  const status = statusColour(p, r.status)(String(r.status || '---'));
  const duration = padStart(r.durationMs >= 1000 ? `${(r.durationMs / 1000).toFixed(2)}s` : `${r.durationMs.toFixed(1)}ms`, 8);
  return `${time}  ${padEnd(r.listener, 14)} ${padEnd(r.method, 7)} ${status}  ${duration}  ${padEnd(r.upstream || '-', 10)}`;
}

function ids(r: { requestId: string; traceId: string }, p: Paint): string {
  return `  ${p.dim(`id=${r.requestId}`)}${r.traceId ? ` ${p.dim(`trace=${r.traceId}`)}` : ''}`;
}

export function formatRecord(r: ExchangeRecord, p: Paint): string {
  let line = `${leadingColumns(r, p)} ${r.path}`;
  if (r.grpcStatus !== undefined) line += `  ${(r.grpcFault ? p.red : r.grpcStatus === 'OK' ? p.green : p.yellow)(`grpc=${r.grpcStatus || '-'}`)}`;
  if (r.error) line += `  ${p.red(r.error)}`;
  if (r.retries) line += `  ${p.yellow(`retries=${r.retries}`)}`;
  return line + ids(r, p);
}

/** A CONNECT tunnel: its target, how it went, and the bytes each way (sent = app → upstream). */
export function formatTunnel(r: TunnelRecord, p: Paint): string {
  let line = `${leadingColumns(r, p)} ${r.target}`;
  if (r.outcome === 'established') line += `  ${p.dim(`closed by ${r.closedBy || '?'}`)}  sent=${r.bytesIn} received=${r.bytesOut}`;
  else line += `  ${p.red(r.error ? `${r.error} (${r.outcome})` : r.outcome)}`;
  return line + ids(r, p);
}

export async function runTap(options: TapCommandOptions): Promise<void> {
  const client = adminClient(options);
  const res = await client.get(tapQuery(options), { accept: 'application/x-ndjson' });
  const out = paint(process.stdout);
  const err = paint(process.stderr);
  process.stderr.write(err.dim(`tapping ${client.base.origin} (Ctrl-C to stop)\n`));
  // stdout closed by the reader (| head): stop quietly.
  process.stdout.on('error', () => process.exit(0));
  const lines = createInterface({ input: res.body, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      if (!line) continue;
      if (options.json) {
        process.stdout.write(`${line}\n`);
        continue;
      }
      const record = JSON.parse(line) as ExchangeRecord | TunnelRecord | { kind: 'dropped'; rate: number; slow: number };
      if (record.kind === 'dropped') {
        process.stderr.write(err.yellow(`… ${record.rate + record.slow} lines dropped (${record.rate} over the rate limit, ${record.slow} while this client was slow)\n`));
      } else if (record.kind === 'exchange') {
        process.stdout.write(`${formatRecord(record, out)}\n`);
      } else if (record.kind === 'tunnel') {
        process.stdout.write(`${formatTunnel(record, out)}\n`);
      }
    }
  } catch (e) {
    throw new CliError(`the tap stream broke off (sidelight stopped, or the connection was lost): ${(e as Error).message}`, 1);
  }
  process.stderr.write(err.dim('sidelight ended the tap\n'));
}
