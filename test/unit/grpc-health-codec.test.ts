// The gRPC health check's hand-written protobuf, held to protobufjs reading and writing the
// same messages from grpc.health.v1's own .proto (test/fixtures/health.proto).
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { healthCheckRequest, servingStatus } from '../../src/lifecycle/grpc-health.js';

const root = protobuf.loadSync(fileURLToPath(new URL('../fixtures/health.proto', import.meta.url)));
const Request = root.lookupType('grpc.health.v1.HealthCheckRequest');
const Response = root.lookupType('grpc.health.v1.HealthCheckResponse');

/** a gRPC message frame: uncompressed, 4-byte big-endian length, the message */
function framed(message: Uint8Array): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

describe('gRPC health check codec', () => {
  it.each(['', 'sidelight.test.v1.Echo', 'ü-service', 'x'.repeat(200), 'y'.repeat(20_000)])('writes HealthCheckRequest{service: %s} as protobufjs does', (service) => {
    const frame = healthCheckRequest(service);
    // proto3 leaves a field at its default out (protobufjs writes one it was given, even "")
    expect(frame).toEqual(framed(Request.encode(Request.create(service === '' ? {} : { service })).finish()));
    expect(Request.decode(frame.subarray(5)).toJSON()).toEqual(service === '' ? {} : { service });
  });

  it.each([0, 1, 2, 3])('reads HealthCheckResponse{status: %i} as protobufjs writes it', (status) => {
    expect(servingStatus(framed(Response.encode(Response.create({ status })).finish()))).toBe(status);
  });

  it('skips fields it does not know, of every wire type', () => {
    const writer = protobuf.Writer.create();
    writer.uint32((2 << 3) | 2).string('a newer field');
    writer.uint32((3 << 3) | 1).fixed64(7);
    writer.uint32((4 << 3) | 5).fixed32(9);
    writer.uint32((5 << 3) | 0).uint64(2 ** 40);
    writer.uint32((1 << 3) | 0).int32(2);
    expect(servingStatus(framed(writer.finish()))).toBe(2);
  });

  it('names what is wrong with an answer that is not a HealthCheckResponse frame', () => {
    expect(servingStatus(Buffer.alloc(0))).toBe('no message in the answer');
    expect(servingStatus(Buffer.from([1, 0, 0, 0, 0]))).toBe('a compressed answer (none was offered)');
    expect(servingStatus(Buffer.from([0, 0, 0, 0, 9, 8]))).toBe('a malformed message frame');
    // field 1 as a varint that never ends
    expect(servingStatus(framed(Buffer.from([0x08, 0xff, 0xff])))).toBe('a malformed message');
    // a length-delimited field longer than the message
    expect(servingStatus(framed(Buffer.from([0x12, 0x09, 0x61])))).toBe('a malformed message');
    // wire type 3 (group start) has no place in proto3
    expect(servingStatus(framed(Buffer.from([0x0b])))).toBe('a malformed message');
  });
});
