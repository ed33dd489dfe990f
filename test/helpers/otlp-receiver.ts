// A real OTLP/HTTP trace receiver on an ephemeral port: it decodes the protobuf payloads the
// exporter sends (ExportTraceServiceRequest) with protobufjs and the .proto files opentelemetry-proto
// publishes, so tests assert on exactly what a collector or Jaeger would receive.
import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';
import { until } from './http.js';

const PROTO_ROOT = fileURLToPath(new URL('../third_party/opentelemetry-proto/', import.meta.url));
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => join(PROTO_ROOT, target);
root.loadSync('opentelemetry/proto/collector/trace/v1/trace_service.proto', { keepCase: false });
/** opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest */
export const ExportTraceServiceRequest = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');

export type SpanKindName = 'UNSPECIFIED' | 'INTERNAL' | 'SERVER' | 'CLIENT' | 'PRODUCER' | 'CONSUMER';
const KINDS: SpanKindName[] = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** "" for a root span */
  parentSpanId: string;
  traceState: string;
  name: string;
  kind: SpanKindName;
  attributes: Record<string, unknown>;
  /** 0 unset, 1 ok, 2 error */
  statusCode: number;
  /** OTLP span flags: W3C trace flags in the low byte, 0x100 "is-remote known", 0x200 "parent is remote" */
  flags: number;
  resource: Record<string, unknown>;
  scope: string;
  startNanos: bigint;
  endNanos: bigint;
}

export interface OtlpReceiver {
  /** base URL for OTEL_EXPORTER_OTLP_ENDPOINT */
  url: string;
  port: number;
  spans: ReceivedSpan[];
  /** export requests seen, with their path, content type, headers and when each was answered (performance.now()) */
  requests: Array<{ path: string; contentType: string; encoding: string; headers: IncomingHttpHeaders; answeredAt: number }>;
  /** TCP connections ever accepted (with TLS: before the handshake) */
  connections(): number;
  /** the most export requests ever in progress at once */
  maxConcurrent(): number;
  /** from now on: hold each export this long, and/or answer with this status and Retry-After (spans are kept only on 2xx) */
  behave(behaviour: Behaviour): void;
  /** waits until `predicate` holds for the spans received so far */
  waitFor(predicate: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number, what?: string): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

interface Decoded {
  resourceSpans?: Array<{
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: Array<{ scope?: { name?: string }; spans?: RawSpan[] }>;
  }>;
}
interface KeyValue {
  key: string;
  value?: AnyValue;
}
interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string | { toString(): string };
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
  bytesValue?: Uint8Array;
}
interface RawSpan {
  traceId: Uint8Array;
  spanId: Uint8Array;
  parentSpanId?: Uint8Array;
  traceState?: string;
  name: string;
  kind: number;
  attributes?: KeyValue[];
  status?: { code?: number };
  flags?: number;
  startTimeUnixNano: { toString(): string } | number;
  endTimeUnixNano: { toString(): string } | number;
}

const hex = (b: Uint8Array | undefined) => (b && b.length ? Buffer.from(b).toString('hex') : '');

function value(v: AnyValue | undefined): unknown {
  if (!v) return undefined;
  // protobufjs names the field that is set in a oneof through the oneof's own property; the
  // other fields read as their proto3 defaults.
  switch ((v as { value?: string }).value) {
    case 'stringValue':
      return v.stringValue;
    case 'boolValue':
      return v.boolValue;
    case 'intValue':
      return Number(v.intValue!.toString());
    case 'doubleValue':
      return v.doubleValue;
    case 'arrayValue':
      return (v.arrayValue?.values ?? []).map(value);
    case 'kvlistValue':
      return attrs(v.kvlistValue?.values);
    case 'bytesValue':
      return Buffer.from(v.bytesValue!);
    default:
      return undefined;
  }
}

function attrs(list: KeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of list ?? []) out[kv.key] = value(kv.value);
  return out;
}

export function decodeTraces(body: Buffer): ReceivedSpan[] {
  // The decoded message itself: bytes stay Uint8Array, 64-bit integers are Long (toString works).
  const raw = ExportTraceServiceRequest.decode(body) as unknown as Decoded;
  const spans: ReceivedSpan[] = [];
  for (const rs of raw.resourceSpans ?? []) {
    const resource = attrs(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        spans.push({
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: hex(s.parentSpanId),
          traceState: s.traceState ?? '',
          name: s.name,
          kind: KINDS[s.kind] ?? 'UNSPECIFIED',
          attributes: attrs(s.attributes),
          statusCode: s.status?.code ?? 0,
          flags: s.flags ?? 0,
          resource,
          scope: ss.scope?.name ?? '',
          startNanos: BigInt(s.startTimeUnixNano.toString()),
          endNanos: BigInt(s.endTimeUnixNano.toString()),
        });
      }
    }
  }
  return spans;
}

interface Behaviour {
  delayMs?: number;
  status?: number;
  retryAfter?: string;
}

/** `tls`: serve HTTPS with this key and certificate. */
export async function startOtlpReceiver(options: { tls?: { key: string; cert: string } } = {}): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const requests: OtlpReceiver['requests'] = [];
  let connections = 0;
  let inProgress = 0;
  let maxConcurrent = 0;
  let behaviour: Behaviour = {};
  const sockets = new Set<Socket>();
  const onRequest: RequestListener = (req, res) => {
    inProgress++;
    maxConcurrent = Math.max(maxConcurrent, inProgress);
    res.on('close', () => inProgress--);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const delayMs = behaviour.delayMs ?? 0;
      if (delayMs > 0) setTimeout(answer, delayMs);
      else answer();
    });
    const answer = () => {
      const contentType = String(req.headers['content-type'] ?? '');
      const encoding = String(req.headers['content-encoding'] ?? '');
      requests.push({ path: req.url ?? '', contentType, encoding, headers: req.headers, answeredAt: performance.now() });
      if (req.method !== 'POST' || req.url !== '/v1/traces' || contentType !== 'application/x-protobuf') {
        res.writeHead(404).end();
        return;
      }
      let body = Buffer.concat(chunks);
      if (encoding === 'gzip') body = gunzipSync(body);
      let decoded: ReceivedSpan[];
      try {
        decoded = decodeTraces(body);
      } catch {
        res.writeHead(400).end();
        return;
      }
      const status = behaviour.status ?? 200;
      if (status >= 200 && status < 300) spans.push(...decoded);
      // An empty ExportTraceServiceResponse.
      const retryAfter = behaviour.retryAfter === undefined ? {} : { 'retry-after': behaviour.retryAfter };
      res.writeHead(status, { 'content-type': 'application/x-protobuf', 'content-length': '0', ...retryAfter }).end();
    };
  };
  const server: Server = options.tls ? createTlsServer(options.tls, onRequest) : createServer(onRequest);
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    spans,
    requests,
    connections: () => connections,
    maxConcurrent: () => maxConcurrent,
    behave: (b) => (behaviour = b),
    async waitFor(predicate, timeoutMs = 10_000, what = 'spans') {
      await until(() => predicate(spans), timeoutMs, what);
      return spans;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
