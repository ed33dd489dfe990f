// Trace and span ids: random bytes from the CSPRNG, drawn from a pooled buffer turned into hex
// once per refill, so an id costs a substring, not a system call or a native conversion.
// OpenTelemetry's own generator uses Math.random; a cryptographic source also satisfies W3C
// Level 2's "random trace id" without a second thought.
import { randomFillSync } from 'node:crypto';

const POOL = Buffer.allocUnsafe(4096);
let hex = '';
let offset = 0;

function take(bytes: number): string {
  const digits = bytes * 2;
  if (offset + digits > hex.length) {
    hex = randomFillSync(POOL).toString('hex');
    offset = 0;
  }
  const id = hex.slice(offset, offset + digits);
  offset += digits;
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
