// sidelight's own OTLP protobuf writer, read back by protobufjs with the .proto files
// opentelemetry-proto publishes, and compared with what the OpenTelemetry JS SDK's OTLP exporter
// writes for the same span.
import { ROOT_CONTEXT, SpanKind as SdkSpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { OtlpTraceEncoder } from '../../src/telemetry/spans/otlp-encoding.js';
import { ATTR } from '../../src/telemetry/spans/semconv.js';
import { AttributeKey, SpanKind, SpanRecord } from '../../src/telemetry/spans/span-record.js';
import { decodeTraces, ExportTraceServiceRequest } from '../helpers/otlp-receiver.js';

const encoder = new OtlpTraceEncoder({ 'service.name': 'checkout', 'k8s.pod.name': 'pod-ü' }, 'sidelight', '1.2.3');
const tid = '0af7651916cd43dd8448eb211c80319c';

function record(overrides: Partial<SpanRecord> = {}): SpanRecord {
  const r: SpanRecord = {
    traceId: tid,
    spanId: 'b7ad6b7169203331',
    parentSpanId: '00f067aa0ba902b7',
    traceState: 'vendor=x',
    flags: 1,
    parentRemote: true,
    kind: SpanKind.Server,
    name: 'GET /api/items/:id',
    startMs: 1_764_000_000_123.456789,
    endMs: 1_764_000_000_125.5,
    error: false,
    attributes: [ATTR.method, 'GET', ATTR.status, 200, ATTR.urlPath, '/api/items/42'],
    ...overrides,
  };
  const parent = r.parentSpanId ? { traceId: r.traceId, spanId: r.parentSpanId, flags: 0, sampled: undefined, traceState: r.traceState, remote: r.parentRemote } : undefined;
  return new SpanRecord({ traceId: r.traceId, spanId: r.spanId, traceFlags: r.flags }, parent, r.kind, r.name, r.startMs, r.endMs, r.error, r.attributes);
}

/** sidelight's ExportTraceServiceRequest and the SDK's, as plain objects: proto3 defaults filled in, oneofs named, 64-bit integers as strings */
const asObject = (bytes: Uint8Array) =>
  ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(bytes), { longs: String, bytes: String, enums: String, defaults: true, oneofs: true });

/** the nanoseconds a double number of epoch milliseconds stands for, computed exactly */
const nanos = (ms: number) => {
  const seconds = Math.floor(ms / 1000);
  return BigInt(seconds) * 1_000_000_000n + BigInt(Math.round((ms - seconds * 1000) * 1e6));
};

describe('OtlpTraceEncoder', () => {
  it('writes spans, resource and scope as an ExportTraceServiceRequest', () => {
    const [span] = decodeTraces(encoder.encode([record()]));
    expect(span).toMatchObject({
      traceId: tid,
      spanId: 'b7ad6b7169203331',
      parentSpanId: '00f067aa0ba902b7',
      traceState: 'vendor=x',
      name: 'GET /api/items/:id',
      kind: 'SERVER',
      statusCode: 0,
      scope: 'sidelight',
      resource: { 'service.name': 'checkout', 'k8s.pod.name': 'pod-ü' },
      attributes: { 'http.request.method': 'GET', 'http.response.status_code': 200, 'url.path': '/api/items/42' },
    });
    expect(span.startNanos).toBe(nanos(1_764_000_000_123.456789));
    expect(span.endNanos).toBe(nanos(1_764_000_000_125.5));
    // W3C flags in the low byte, "is-remote known" and "remote parent" above, as OpenTelemetry JS sets them.
    expect(span.flags).toBe(0x301);
  });

  it('marks errors, local parents and roots', () => {
    const spans = decodeTraces(
      encoder.encode([record({ error: true, parentRemote: false, kind: SpanKind.Client }), record({ parentSpanId: '', traceState: '', parentRemote: false, flags: 3 })]),
    );
    expect(spans[0]).toMatchObject({ statusCode: 2, kind: 'CLIENT', flags: 0x101 });
    expect(spans[1]).toMatchObject({ parentSpanId: '', traceState: '', flags: 0x103 });
  });

  it('gets lengths right for long and non-ASCII values, and many spans', () => {
    const long = 'x'.repeat(20_000);
    const spans = Array.from({ length: 600 }, (_, i) => record({ spanId: (i + 1).toString(16).padStart(16, '0'), attributes: [ATTR.urlPath, i === 0 ? long : `/päth/${i}/${'€'.repeat(i % 50)}`, ATTR.status, 100 + i] }));
    const decoded = decodeTraces(encoder.encode(spans));
    expect(decoded).toHaveLength(600);
    expect(decoded[0].attributes['url.path']).toBe(long);
    expect(decoded[599].attributes).toEqual({ 'url.path': `/päth/599/${'€'.repeat(599 % 50)}`, 'http.response.status_code': 699 });
    expect(decoded[599].spanId).toBe((600).toString(16).padStart(16, '0'));
  });

  it("writes the next batch into a delivered batch's buffer, and only then", () => {
    const own = new OtlpTraceEncoder({ 'service.name': 'checkout' }, 'sidelight', '1.2.3');
    const fill = (name: string) => {
      const batch = own.batch();
      for (let i = 0; i < 50; i++) own.append(batch, record({ name: `${name} ${i}` }));
      return batch;
    };
    const first = fill('first');
    const firstPayload = own.finish(first);
    const second = fill('second'); // the first is still on its way: a buffer of its own
    expect(second.writer.buf.buffer).not.toBe(firstPayload.buffer);
    expect(decodeTraces(firstPayload).map((s) => s.name)).toContain('first 49');
    own.recycle(first);
    const third = fill('third');
    expect(third.writer.buf.buffer).toBe(firstPayload.buffer);
    const names = decodeTraces(own.finish(third)).map((s) => s.name);
    expect(names).toHaveLength(50);
    expect(names[49]).toBe('third 49');
    expect(decodeTraces(own.finish(second)).map((s) => s.name)[0]).toBe('second 0');
  });

  it('writes integer attributes as int64: past 2^35, up to the largest below 2^63, and negative (ten bytes)', () => {
    const values = [0, 1, 127, 128, 2 ** 35 - 1, 2 ** 35, 2 ** 35 + 1, 40_000_000_000, 2 ** 53 - 1, 2 ** 62, 2 ** 63 - 1024, -1, -128, -(2 ** 35), -(2 ** 53) + 1, -(2 ** 63)];
    const request = asObject(encoder.encode([record({ attributes: values.flatMap((v, i) => [new AttributeKey(`n${i}`), v]) })]));
    const attributes = request.resourceSpans[0].scopeSpans[0].spans[0].attributes as Array<{ value: { value: string; intValue: string } }>;
    expect(attributes.map((a) => [a.value.value, a.value.intValue])).toEqual(values.map((v) => ['intValue', BigInt(v).toString()]));
  });
});

describe("sidelight's encoding and the OpenTelemetry JS SDK's OTLP exporter", () => {
  const resource = { 'service.name': 'checkout', 'k8s.pod.name': 'pod-ü' };
  const sdkEncode = (span: SpanRecord, names: string[]) => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes(resource),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
      idGenerator: { generateTraceId: () => span.traceId, generateSpanId: () => span.spanId },
    });
    const parent = span.parentSpanId
      ? trace.setSpanContext(ROOT_CONTEXT, { traceId: span.traceId, spanId: span.parentSpanId, traceFlags: span.flags, isRemote: span.parentRemote, traceState: new TraceState(span.traceState) })
      : ROOT_CONTEXT;
    const attributes: Record<string, string | number> = {};
    for (let i = 0; i < span.attributes.length; i += 2) attributes[names[i / 2]] = span.attributes[i + 1] as string | number;
    const sdkSpan = provider
      .getTracer('sidelight', '1.2.3')
      .startSpan(span.name, { kind: span.kind === SpanKind.Server ? SdkSpanKind.SERVER : SdkSpanKind.CLIENT, startTime: span.startMs, attributes }, parent);
    if (span.error) sdkSpan.setStatus({ code: SpanStatusCode.ERROR });
    sdkSpan.end(span.endMs);
    return ProtobufTraceSerializer.serializeRequest(exporter.getFinishedSpans())!;
  };

  const cases: Array<[string, Partial<SpanRecord>]> = [
    ['a server span with a remote parent', {}],
    ['a client span with an error and a local parent', { kind: SpanKind.Client, error: true, parentRemote: false, traceState: '' }],
    ['a root span', { parentSpanId: '', traceState: '', parentRemote: false }],
    [
      'a tunnel past 34 GB, a negative count and non-ASCII text',
      {
        kind: SpanKind.Client,
        name: 'CONNECT',
        attributes: [ATTR.method, 'CONNECT', ATTR.serverAddress, 'api.ëxample.com', ATTR.serverPort, 443, ATTR.tunnelBytesSent, 40_000_000_000, ATTR.tunnelBytesReceived, 2 ** 53 - 1, ATTR.resendCount, -3],
      },
    ],
  ];
  for (const [name, overrides] of cases) {
    it(`agree field by field on ${name}`, () => {
      const span = record(overrides);
      const names = span.attributes.filter((_, i) => i % 2 === 0).map((k) => (k as AttributeKey).name);
      const ours = asObject(encoder.encode([span]));
      const theirs = asObject(sdkEncode(span, names));
      expect(ours).toEqual(theirs);
      // The comparison covers every field that matters: it is not two empty objects.
      const s = ours.resourceSpans[0].scopeSpans[0].spans[0];
      expect(s.attributes).toHaveLength(names.length);
      expect(s.startTimeUnixNano).toBe(String(nanos(span.startMs)));
    });
  }
});
