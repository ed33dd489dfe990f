// The standard gRPC health check (grpc/doc/health-checking.md) as one unary call: POST
// /grpc.health.v1.Health/Check over h2c with a HealthCheckRequest, read the HealthCheckResponse's
// status and the call's grpc-status. The two messages have one field each, so they are encoded
// here by hand (protobuf wire format) rather than with a protobuf library at run time.
import type { Dispatcher } from 'undici';
import { grpcStatusName, parseGrpcStatus } from '../net/grpc-status.js';
import { requestVia } from '../proxy/undici.js';

const CHECK_PATH = '/grpc.health.v1.Health/Check';
/** HealthCheckResponse.ServingStatus */
const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];
const SERVING = 1;
/** the answer is one enum: anything longer is not a health service's */
const MAX_ANSWER_BYTES = 1024;
/** an app's grpc-message is shown on /ready and in the log: kept to a line */
const MAX_MESSAGE_CHARS = 200;

/** A HealthCheckRequest{service} in a gRPC message frame: flag 0 (uncompressed), 4-byte length, then the protobuf. */
export function healthCheckRequest(service: string): Buffer {
  const name = Buffer.from(service, 'utf8');
  // proto3 leaves a field at its default ("") out
  const message = name.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a /* field 1, length-delimited */]), varint(name.length), name]);
  const frame = Buffer.alloc(5);
  frame.writeUInt32BE(message.length, 1);
  return Buffer.concat([frame, message]);
}

function varint(n: number): Buffer {
  const bytes: number[] = [];
  while (n > 0x7f) {
    bytes.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  bytes.push(n);
  return Buffer.from(bytes);
}

/**
 * HealthCheckResponse.status from a gRPC message frame: 0 (UNKNOWN) when the field is absent, as
 * proto3 sends the default; a string when the bytes are not such a frame.
 */
export function servingStatus(frame: Buffer): number | string {
  if (frame.length < 5) return 'no message in the answer';
  if (frame[0] !== 0) return 'a compressed answer (none was offered)';
  const end = 5 + frame.readUInt32BE(1);
  if (end !== frame.length) return 'a malformed message frame';
  let status = 0;
  for (let at = 5; at < end; ) {
    const tag = readVarint(frame, at, end);
    if (tag === undefined) return 'a malformed message';
    at = tag.next;
    const wireType = tag.value & 7;
    if (wireType === 0) {
      const value = readVarint(frame, at, end);
      if (value === undefined) return 'a malformed message';
      if (tag.value >>> 3 === 1) status = value.value;
      at = value.next;
    } else if (wireType === 2) {
      const length = readVarint(frame, at, end);
      if (length === undefined) return 'a malformed message';
      at = length.next + length.value;
    } else if (wireType === 1 || wireType === 5) {
      at += wireType === 1 ? 8 : 4;
    } else {
      return 'a malformed message';
    }
    if (at > end) return 'a malformed message';
  }
  return status;
}

/** a varint (at most 10 bytes); exact up to 2^53, which tags, lengths and enums stay far below */
function readVarint(bytes: Buffer, at: number, end: number): { value: number; next: number } | undefined {
  let value = 0;
  for (let shift = 0; shift < 70 && at < end; shift += 7) {
    const byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return { value, next: at };
  }
  return undefined;
}

/** "ok", or the check's words for /ready and the log */
export async function checkGrpcHealth(client: Dispatcher, service: string, timeout: number): Promise<string> {
  const res = await requestVia(client, {
    path: CHECK_PATH,
    method: 'POST',
    headersTimeout: timeout,
    bodyTimeout: timeout,
    signal: AbortSignal.timeout(timeout),
    headers: { 'content-type': 'application/grpc', te: 'trailers', 'user-agent': 'sidelight-readiness' },
    body: healthCheckRequest(service),
  });
  const answer = await readBounded(res.body);
  if (res.statusCode !== 200) return `failing: grpc health: HTTP ${res.statusCode}`;
  // a trailers-only answer carries grpc-status in the head
  const headers = res.headers['grpc-status'] === undefined ? res.trailers : res.headers;
  const code = parseGrpcStatus(headers['grpc-status']);
  if (code !== 0) return `failing: grpc health: ${code === -1 ? 'no grpc-status' : grpcStatusName(code)}${grpcMessage(headers['grpc-message'])}`;
  if (answer === undefined) return `failing: grpc health: an answer over ${MAX_ANSWER_BYTES} bytes`;
  const status = servingStatus(answer);
  if (typeof status === 'string') return `failing: grpc health: ${status}`;
  return status === SERVING ? 'ok' : `failing: grpc health ${SERVING_STATUS[status] ?? status}`;
}

/** the body, or undefined (and the rest dropped) past MAX_ANSWER_BYTES */
async function readBounded(body: Dispatcher.ResponseData['body']): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_ANSWER_BYTES) {
      body.destroy();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** " " and the percent-decoded grpc-message, one line, bounded; "" when none */
function grpcMessage(value: string | string[] | undefined): string {
  if (typeof value !== 'string' || value === '') return '';
  let text = value;
  try {
    text = decodeURIComponent(value);
  } catch {
    // not percent-encoded as the spec asks: shown as sent
  }
  text = text.replace(/[\r\n]+/g, ' ');
  return ` ${text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS)}…` : text}`;
}
