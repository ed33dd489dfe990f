// A finished span, in the one fixed shape sidelight exports: written once when the exchange (or
// the try) is over, from data it already holds, then queued for export. No span object lives
// through the request: while a request is in flight, its ids sit on the Exchange record.
import type { TraceParent } from '../../proxy/exchange.js';
import type { SpanIds } from '../../proxy/layer.js';

/** OTLP's SpanKind values */
export const enum SpanKind {
  Server = 2,
  Client = 3,
}

/**
 * An attribute key with its protobuf encoding (KeyValue.key: tag, length, UTF-8) made once, so
 * the exporter copies bytes instead of encoding the same names for every span.
 */
export class AttributeKey {
  readonly encoded: Buffer;
  /** encoded.length, as a plain field: a Buffer's length is a prototype getter */
  readonly size: number;
  constructor(readonly name: string) {
    const bytes = Buffer.from(name, 'utf8');
    if (bytes.length > 127) throw new Error(`attribute key too long: ${name}`);
    this.encoded = Buffer.concat([Buffer.from([0x0a, bytes.length]), bytes]);
    this.size = this.encoded.length;
  }
}

/** Attribute values are strings or integers (status codes, ports, counts). */
export type AttributeValue = string | number;

export class SpanRecord {
  readonly traceId: string;
  readonly spanId: string;
  /** W3C trace-flags of this span */
  readonly flags: number;
  /** "" for a root span */
  readonly parentSpanId: string;
  /** the W3C tracestate carried on, "" when none */
  readonly traceState: string;
  /** the parent came from another process (a header), not from this sidecar */
  readonly parentRemote: boolean;

  constructor(
    span: SpanIds,
    parent: TraceParent | undefined,
    readonly kind: SpanKind,
    readonly name: string,
    /** milliseconds since the Unix epoch, sub-millisecond precision */
    readonly startMs: number,
    readonly endMs: number,
    /** status ERROR; otherwise UNSET */
    readonly error: boolean,
    /** flat [key, value, key, value, …] */
    readonly attributes: Array<AttributeKey | AttributeValue>,
  ) {
    this.traceId = span.traceId;
    this.spanId = span.spanId;
    this.flags = span.traceFlags;
    this.parentSpanId = parent?.spanId ?? '';
    this.traceState = parent?.traceState ?? '';
    this.parentRemote = parent?.remote ?? false;
  }
}

/** performance.now() as milliseconds since the Unix epoch */
export const epochMs = (monotonicMs: number): number => performance.timeOrigin + monotonicMs;
