// SpanRecords as an OTLP ExportTraceServiceRequest in protobuf wire format (the field numbers
// of opentelemetry/proto/trace/v1/trace.proto, common.proto and resource.proto). sidelight
// exports exactly two span shapes, so a direct writer replaces the generic protobufjs machinery:
// one growing buffer per batch, nested lengths patched in place, attribute keys pre-encoded.
// A span is written into its batch when it finishes; the request around a batch is written at export.
import { AttributeKey, type SpanRecord } from './span-record.js';

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

/** OTLP span flags: bit 8 says whether bit 9 (parent is remote) is known; the low byte is the W3C flags */
const FLAGS_HAS_IS_REMOTE = 0x100;
const FLAGS_IS_REMOTE = 0x200;
const STATUS_ERROR = 2;

/** hex digit (char code) → its value; ids are validated lowercase hex before they get here */
const HEX = new Uint8Array(128);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) HEX[97 + i] = HEX[65 + i] = 10 + i;

/** A growing buffer; the cold parts (resource, scope, the request around a batch) use its methods. */
class ProtoWriter {
  buf: Buffer;
  pos = 0;

  constructor(sizeOrBuffer: number | Buffer) {
    this.buf = typeof sizeOrBuffer === 'number' ? Buffer.allocUnsafe(sizeOrBuffer) : sizeOrBuffer;
  }

  ensure(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + bytes));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  varint(value: number): void {
    this.ensure(10);
    this.pos = putVarint(this.buf, this.pos, value);
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  /** Opens a length-delimited field; returns where its length goes. One byte is reserved. */
  begin(field: number): number {
    this.tag(field, WIRE_LEN);
    this.ensure(1);
    return this.pos++;
  }

  /** Closes the field opened at `at`. */
  end(at: number): void {
    this.ensure(4);
    this.pos = closeLength(this.buf, at, this.pos);
  }

  string(field: number, text: string): void {
    this.ensure(16 + 3 * text.length);
    this.pos = putString(this.buf, this.pos, (field << 3) | WIRE_LEN, text);
  }

  bytes(chunk: Uint8Array): void {
    this.ensure(chunk.length);
    this.buf.set(chunk, this.pos);
    this.pos += chunk.length;
  }

  /** KeyValue { key = 1; AnyValue value = 2 { string_value = 1 } } */
  attribute(field: number, key: Buffer, value: string): void {
    const kv = this.begin(field);
    this.bytes(key);
    const any = this.begin(2);
    this.string(1, value);
    this.end(any);
    this.end(kv);
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/** The constant part of every request: Resource and InstrumentationScope, encoded once. */
export class OtlpTraceEncoder {
  private readonly resource: Buffer;
  private readonly scope: Buffer;
  /** bytes in front of a batch's spans for the request's header: the constant parts and two lengths */
  private readonly headerRoom: number;
  /** a new batch's buffer size: grows to what a full batch took */
  private batchBytes = 16384;
  private spare: Buffer | undefined = undefined;

  constructor(resourceAttributes: Record<string, string>, scopeName: string, scopeVersion: string) {
    const r = new ProtoWriter(1024);
    const resource = r.begin(1); // ResourceSpans.resource
    for (const [key, value] of Object.entries(resourceAttributes)) r.attribute(1, new AttributeKey(key).encoded, value);
    r.end(resource);
    this.resource = Buffer.from(r.finish());
    const s = new ProtoWriter(128);
    const scope = s.begin(1); // ScopeSpans.scope
    s.string(1, scopeName);
    s.string(2, scopeVersion);
    s.end(scope);
    this.scope = Buffer.from(s.finish());
    this.headerRoom = 1 + 5 + this.resource.length + 1 + 5 + this.scope.length;
  }

  /** A batch to encode spans into as they finish: the last exported batch's buffer when there is one. */
  batch(): OtlpSpanBatch {
    const buf = this.spare ?? Buffer.allocUnsafe(this.batchBytes);
    this.spare = undefined;
    return new OtlpSpanBatch(buf, this.headerRoom);
  }

  append(batch: OtlpSpanBatch, span: SpanRecord): void {
    writeSpan(batch.writer, span);
  }

  /**
   * The ExportTraceServiceRequest around a batch's spans, written into the room left in front of
   * them: the payload is a view of the batch's own buffer, not a copy.
   */
  finish(batch: OtlpSpanBatch): Buffer {
    const w = batch.writer;
    const spansLength = w.pos - this.headerRoom;
    const scopeSpansLength = this.scope.length + spansLength;
    const resourceSpansLength = this.resource.length + 1 + varintSize(scopeSpansLength) + scopeSpansLength;
    const headerLength = 1 + varintSize(resourceSpansLength) + this.resource.length + 1 + varintSize(scopeSpansLength) + this.scope.length;
    const start = this.headerRoom - headerLength;
    const buf = w.buf;
    let pos = start;
    buf[pos++] = (1 << 3) | WIRE_LEN; // ExportTraceServiceRequest.resource_spans
    pos = putVarint(buf, pos, resourceSpansLength);
    buf.set(this.resource, pos);
    pos += this.resource.length;
    buf[pos++] = (2 << 3) | WIRE_LEN; // ResourceSpans.scope_spans
    pos = putVarint(buf, pos, scopeSpansLength);
    buf.set(this.scope, pos);
    return buf.subarray(start, w.pos);
  }

  /**
   * The collector took the batch: its buffer (sized by a full batch by now) serves the next one,
   * so a steady stream of exports allocates nothing. Only after a success: a failed request may
   * still hold the bytes in a socket's write queue.
   */
  recycle(batch: OtlpSpanBatch): void {
    const buf = batch.writer.buf;
    if (buf.length > MAX_SPARE_BYTES) return;
    this.batchBytes = Math.max(this.batchBytes, buf.length);
    this.spare = buf;
  }

  encode(spans: readonly SpanRecord[]): Buffer {
    const batch = this.batch();
    for (const span of spans) this.append(batch, span);
    return this.finish(batch);
  }
}

/** A batch buffer larger than this (a batch of very large spans) is not kept for reuse. */
const MAX_SPARE_BYTES = 4 * 1024 * 1024;

/**
 * Finished spans waiting for export, already in wire format: one growing buffer outside the JS
 * heap instead of a record, an attribute array and a dozen strings per span. Queued spans used
 * to survive young-generation collections and be copied by each one (13 µs of GC per request
 * at sampling 1.0, by profile); bytes in a buffer are never copied by the GC. The first
 * `headerRoom` bytes are left for the request's header.
 */
export class OtlpSpanBatch {
  count = 0;
  readonly writer: ProtoWriter;

  constructor(buf: Buffer, headerRoom: number) {
    this.writer = new ProtoWriter(buf);
    this.writer.pos = headerRoom;
  }
}

/** bytes a length takes as a varint: lengths here stay far below 2^35 */
const varintSize = (length: number): number => (length < 128 ? 1 : length < 16384 ? 2 : length < 2097152 ? 3 : length < 268435456 ? 4 : 5);

/**
 * One span, written with a local position after a single bound check: this runs on the request's
 * own turn (in the exchange's completion), once per sampled span.
 */
function writeSpan(w: ProtoWriter, s: SpanRecord): void {
  const attrs = s.attributes;
  // Upper bound: UTF-8 takes at most 3 bytes per UTF-16 unit; lengths and tags at most 5 + 2.
  let bound = 96 + 3 * (s.name.length + s.traceState.length + s.traceId.length + s.spanId.length + s.parentSpanId.length);
  for (let i = 0; i < attrs.length; i += 2) {
    const value = attrs[i + 1];
    bound += (attrs[i] as AttributeKey).size + 24 + (typeof value === 'string' ? 3 * value.length : 0);
  }
  w.ensure(bound);
  const buf = w.buf;
  let pos = w.pos;
  buf[pos++] = (2 << 3) | WIRE_LEN; // ScopeSpans.spans
  const span = pos++;
  pos = putHex(buf, pos, (1 << 3) | WIRE_LEN, s.traceId);
  pos = putHex(buf, pos, (2 << 3) | WIRE_LEN, s.spanId);
  if (s.traceState) pos = putString(buf, pos, (3 << 3) | WIRE_LEN, s.traceState);
  if (s.parentSpanId) pos = putHex(buf, pos, (4 << 3) | WIRE_LEN, s.parentSpanId);
  pos = putString(buf, pos, (5 << 3) | WIRE_LEN, s.name);
  buf[pos++] = (6 << 3) | WIRE_VARINT;
  buf[pos++] = s.kind;
  buf[pos++] = (7 << 3) | WIRE_FIXED64;
  pos = putNanos(buf, pos, s.startMs);
  buf[pos++] = (8 << 3) | WIRE_FIXED64;
  pos = putNanos(buf, pos, s.endMs);
  for (let i = 0; i < attrs.length; i += 2) {
    buf[pos++] = (9 << 3) | WIRE_LEN; // Span.attributes: KeyValue { key = 1; AnyValue value = 2 }
    const kv = pos++;
    const key = attrs[i] as AttributeKey;
    buf.set(key.encoded, pos);
    pos += key.size;
    buf[pos++] = (2 << 3) | WIRE_LEN;
    const value = attrs[i + 1];
    if (typeof value === 'string') {
      const any = pos++;
      pos = putString(buf, pos, (1 << 3) | WIRE_LEN, value); // AnyValue.string_value
      pos = closeLength(buf, any, pos);
    } else {
      const any = pos++; // at most 11 bytes: its length takes one
      buf[pos++] = (3 << 3) | WIRE_VARINT; // AnyValue.int_value
      pos = (value as number) >= 0 ? putVarint(buf, pos, value as number) : putNegativeVarint(buf, pos, value as number);
      buf[any] = pos - any - 1;
    }
    pos = closeLength(buf, kv, pos);
  }
  buf[pos++] = (15 << 3) | WIRE_LEN; // Span.status { code = 3 }
  if (s.error) {
    buf[pos++] = 2;
    buf[pos++] = (3 << 3) | WIRE_VARINT;
    buf[pos++] = STATUS_ERROR;
  } else buf[pos++] = 0;
  pos = putVarint(buf, pos, (16 << 3) | WIRE_FIXED32); // Span.flags: a two-byte tag
  buf.writeUInt32LE((s.flags & 0xff) | FLAGS_HAS_IS_REMOTE | (s.parentRemote ? FLAGS_IS_REMOTE : 0), pos);
  pos += 4;
  w.pos = closeLength(buf, span, pos);
}

/** A non-negative integer below 2^64 (exact for any integer a double holds: / 128 and % 128 are exact). */
function putVarint(buf: Buffer, pos: number, value: number): number {
  while (value > 127) {
    buf[pos++] = (value % 128) | 128;
    value = Math.floor(value / 128);
  }
  buf[pos++] = value;
  return pos;
}

/**
 * A negative int64 as protobuf writes it: the 64-bit two's complement, so always ten bytes.
 * Worked on two 32-bit halves: 2^64 + value is past what a double holds exactly.
 */
function putNegativeVarint(buf: Buffer, pos: number, value: number): number {
  const magnitude = -value; // at most 2^63
  let low = magnitude % 4294967296;
  let high = Math.floor(magnitude / 4294967296);
  low = (~low + 1) >>> 0;
  high = (~high + (low === 0 ? 1 : 0)) >>> 0;
  for (let i = 0; i < 9; i++) {
    buf[pos++] = (low & 127) | 128;
    low = ((low >>> 7) | (high << 25)) >>> 0;
    high >>>= 7;
  }
  buf[pos++] = low; // the sign bit
  return pos;
}

/**
 * Writes the length of the field whose content runs from `at + 1` to `end` into the byte
 * reserved at `at`, moving the content when the length needs more than that one byte.
 */
function closeLength(buf: Buffer, at: number, end: number): number {
  const length = end - at - 1;
  if (length < 128) {
    buf[at] = length;
    return end;
  }
  const size = varintSize(length);
  buf.copyWithin(at + size, at + 1, end);
  putVarint(buf, at, length);
  return end + size - 1;
}

/** A length-delimited UTF-8 string field; short ASCII strings (most values) are copied here rather than by a native call. */
function putString(buf: Buffer, pos: number, tag: number, text: string): number {
  buf[pos++] = tag;
  const at = pos++;
  const n = text.length;
  if (n < 64) {
    let i = 0;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c >= 128) break;
      buf[pos + i] = c;
    }
    if (i === n) return closeLength(buf, at, pos + n);
  }
  return closeLength(buf, at, pos + buf.write(text, pos, 'utf8'));
}

/** A trace or span id as bytes: lowercase hex from a header or the id pool, decoded here rather than by a native call per id. */
function putHex(buf: Buffer, pos: number, tag: number, hex: string): number {
  buf[pos++] = tag;
  buf[pos++] = hex.length >>> 1;
  for (let i = 0; i < hex.length; i += 2) buf[pos++] = (HEX[hex.charCodeAt(i)] << 4) | HEX[hex.charCodeAt(i + 1)];
  return pos;
}

/** milliseconds since the epoch (a double) as fixed64 nanoseconds, exact to the double's precision */
function putNanos(buf: Buffer, pos: number, epochMs: number): number {
  const seconds = Math.floor(epochMs / 1000);
  const subNanos = Math.round((epochMs - seconds * 1000) * 1e6);
  // seconds × 10⁹ + subNanos without leaving exact integer arithmetic: split seconds at 2¹⁶.
  const low = (seconds % 65536) * 1e9 + subNanos; // < 2⁴⁷
  const high = Math.floor(seconds / 65536) * 1e9; // × 2¹⁶ later
  const t = (high % 65536) * 65536 + low;
  buf.writeUInt32LE(t % 4294967296, pos);
  buf.writeUInt32LE(Math.floor(high / 65536) + Math.floor(t / 4294967296), pos + 4);
  return pos + 8;
}
