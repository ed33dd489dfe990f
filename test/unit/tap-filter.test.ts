// GET /tap's query parameters: what they match and how a bad one is refused.
import { describe, expect, it } from 'vitest';
import { matches, parseTapFilter, TapFilterError } from '../../src/tap/filter.js';
import type { ExchangeRecord } from '../../src/tap/record.js';

const record: ExchangeRecord = {
  kind: 'exchange',
  time: '2026-01-01T00:00:00.000Z',
  listener: 'ingress',
  requestId: 'r1',
  traceId: '',
  method: 'GET',
  path: '/api/items/1',
  route: '/api/items/:id',
  status: 503,
  durationMs: 120,
  upstream: 'app',
  error: '',
  bytesIn: 0,
  bytesOut: 10,
  retries: 0,
};
const parse = (q: string) => parseTapFilter(new URLSearchParams(q));

describe('tap filters', () => {
  it('match by status code or class, duration, route, and any of repeated values', () => {
    expect(matches(parse('status=5xx'), record)).toBe(true);
    expect(matches(parse('status=503'), record)).toBe(true);
    expect(matches(parse('status=4xx,200'), record)).toBe(false);
    expect(matches(parse('minDuration=100ms'), record)).toBe(true);
    expect(matches(parse('minDuration=1s'), record)).toBe(false);
    expect(matches(parse('route=/api/items/:id&listener=egress&listener=ingress'), record)).toBe(true);
    expect(matches(parse('failed=true'), record)).toBe(true);
    expect(matches(parse('failed'), { ...record, status: 200 })).toBe(false);
    expect(matches(parse('failed'), { ...record, status: 404, error: 'unknown_upstream' })).toBe(true);
  });

  it('records of another kind (a tunnel) pass filters on the fields they have, and fail status or route filters', () => {
    const tunnel = { kind: 'tunnel', time: '', listener: 'egress', requestId: 't', traceId: '', upstream: 'stripe', durationMs: 5000, bytesIn: 1, bytesOut: 2, error: '' };
    expect(matches(parse('upstream=stripe&minDuration=1s'), tunnel)).toBe(true);
    expect(matches(parse('status=2xx'), tunnel)).toBe(false);
    expect(matches(parse('route=/x'), tunnel)).toBe(false);
  });

  it('refuses unknown parameters, bad statuses, durations without a unit and odd booleans', () => {
    expect(() => parse('stauts=5xx')).toThrow(TapFilterError);
    expect(() => parse('status=6xx')).toThrow(/status/);
    expect(() => parse('status=50')).toThrow(/status/);
    expect(() => parse('minDuration=100')).toThrow(/minDuration/);
    expect(() => parse('failed=maybe')).toThrow(/failed/);
  });
});
