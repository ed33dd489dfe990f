// Trace context parsing and header rewriting, without sockets.
import { ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { B3Encoding, extractParent, replaceTraceHeaders, traceparent } from '../../src/telemetry/trace-context.js';

const tid = '0af7651916cd43dd8448eb211c80319c';
const sid = 'b7ad6b7169203331';
const sc = { traceId: tid, spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.SAMPLED };

describe('extractParent', () => {
  it('reads W3C first, then B3 single, then B3 multi', () => {
    expect(trace.getSpanContext(extractParent({ traceparent: `00-${tid}-${sid}-01` }))).toMatchObject({ traceId: tid, spanId: sid, traceFlags: 1, isRemote: true });
    expect(trace.getSpanContext(extractParent({ b3: `${tid}-${sid}-1` }))).toMatchObject({ traceId: tid, spanId: sid, traceFlags: 1 });
    expect(trace.getSpanContext(extractParent({ 'x-b3-traceid': tid, 'x-b3-spanid': sid, 'x-b3-sampled': '0' }))).toMatchObject({ traceId: tid, spanId: sid, traceFlags: 0 });
    // An invalid traceparent falls back to B3 when present.
    expect(trace.getSpanContext(extractParent({ traceparent: 'junk', b3: `${tid}-${sid}-1` }))?.traceId).toBe(tid);
  });

  it('gives the root context for malformed values', () => {
    for (const value of [`00-${tid.toUpperCase()}-${sid}-01`, `00-${'0'.repeat(32)}-${sid}-01`, `00-${tid}-${sid}-01-x`, `00-${'a'.repeat(10_000)}`, '']) {
      expect(extractParent({ traceparent: value })).toBe(ROOT_CONTEXT);
    }
    expect(extractParent({})).toBe(ROOT_CONTEXT);
  });
});

describe('replaceTraceHeaders', () => {
  it("drops the app's trace headers and writes the span's, keeping everything else", () => {
    const out = replaceTraceHeaders(['accept', '*/*', 'traceparent', `00-${tid}-${sid}-01`, 'X-B3-SpanId', sid, 'b3', 'x'], sc, B3Encoding.Single);
    expect(out).toEqual(['accept', '*/*', 'traceparent', traceparent(sc), 'b3', `${tid}-00f067aa0ba902b7-1`]);
  });

  it('accepts the object form of undici headers', () => {
    expect(replaceTraceHeaders({ accept: 'a', traceparent: 'old', multi: ['1', '2'] }, sc, B3Encoding.None)).toEqual(['accept', 'a', 'multi', '1', 'multi', '2', 'traceparent', traceparent(sc)]);
  });
});
