// Trace and span ids: random bytes from the CSPRNG, drawn from a pooled buffer so an id costs a
// hex conversion, not a system call. OpenTelemetry's own generator uses Math.random; a
// cryptographic source also satisfies W3C Level 2's "random trace id" without a second thought.
import { randomFillSync } from 'node:crypto';

const POOL = Buffer.allocUnsafe(4096);
let offset = POOL.length;

function take(bytes: number): string {
  if (offset + bytes > POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  const id = POOL.toString('hex', offset, offset + bytes);
  offset += bytes;
  return id;
}

const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** 32 lowercase hex digits, never all zero (W3C: an all-zero id is invalid) */
export function newTraceId(): string {
  let id = take(16);
  while (id === ZERO_TRACE) id = take(16);
  return id;
}

/** 16 lowercase hex digits, never all zero */
export function newSpanId(): string {
  let id = take(8);
  while (id === ZERO_SPAN) id = take(8);
  return id;
}
