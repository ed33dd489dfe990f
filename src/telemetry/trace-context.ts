// Trace context on the wire: the parent a request carries (W3C traceparent + tracestate, else
// B3 single or multi header) and the header values sidelight writes. Parsing follows W3C Trace
// Context Level 2 strictly (§3.2 traceparent, §3.3 tracestate): anything malformed is ignored,
// so the span starts a new trace, and a tracestate that breaks a rule is dropped whole. B3
// follows github.com/openzipkin/b3-propagation, where a sampling decision may travel alone.
import type { IncomingHttpHeaders } from 'node:http';
import type { TraceParent } from '../proxy/exchange.js';
import type { SpanIds } from '../proxy/layer.js';
import { newTraceId } from './spans/ids.js';

/**
 * The caller's span, as sidelight continues it; or, when the caller sent only its sampling
 * decision (B3 `b3: 0`, `X-B3-Sampled: 0` without ids), a new trace under that decision: then
 * traceId is a fresh id, spanId is "" and it is not remote.
 */
export type ParentContext = TraceParent;

export const enum B3Encoding {
  None = 0,
  Single = 1,
  Multi = 2,
}

export const SAMPLED = 0x01;
/** Level 2 "random" flag: kept when the caller set it, so the next hop may rely on it too */
const RANDOM = 0x02;

/** Request headers sidelight writes itself: the client's values are replaced, never copied. */
export const TRACE_HEADERS = ['traceparent', 'tracestate', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags'] as const;

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const ZERO32 = '0'.repeat(32);
const ZERO16 = '0'.repeat(16);
const isHex = (c: number) => (c >= 48 && c <= 57) || (c >= 97 && c <= 102);

function hexRun(s: string, from: number, length: number): boolean {
  for (let i = from; i < from + length; i++) if (!isHex(s.charCodeAt(i))) return false;
  return true;
}

/**
 * traceparent: version "-" trace-id "-" parent-id "-" trace-flags, lowercase hex. Version ff is
 * invalid; version 00 has exactly these four fields; a later version may append "-…" fields,
 * which are ignored. All-zero ids are invalid.
 */
export function parseTraceparent(header: string | string[] | undefined): { traceId: string; spanId: string; flags: number } | undefined {
  if (typeof header !== 'string') return undefined; // absent, or sent twice: ambiguous
  const v = header.trim();
  if (v.length < 55 || v.charCodeAt(2) !== 45 || v.charCodeAt(35) !== 45 || v.charCodeAt(52) !== 45) return undefined;
  if (!hexRun(v, 0, 2) || v.startsWith('ff')) return undefined;
  if (v.startsWith('00') ? v.length !== 55 : v.length > 55 && v.charCodeAt(55) !== 45) return undefined;
  if (!hexRun(v, 3, 32) || !hexRun(v, 36, 16) || !hexRun(v, 53, 2)) return undefined;
  const traceId = v.slice(3, 35);
  const spanId = v.slice(36, 52);
  if (traceId === ZERO32 || spanId === ZERO16) return undefined;
  return { traceId, spanId, flags: parseInt(v.slice(53, 55), 16) & (SAMPLED | RANDOM) };
}

// §3.3.1: key = lcalpha / DIGIT first, then up to 255 of lcalpha DIGIT _ - * / @ (tenant@system
// keys included); value = 0–255 printable ASCII but "," and "=", ending in a non-space.
const TRACESTATE_KEY = /^[a-z0-9][a-z0-9_\-*/@]{0,255}$/;
const TRACESTATE_VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;
const MAX_MEMBERS = 32;
/** §3.3.1.5: at least 512 characters are propagated; a longer list is cut to fit, whole members at a time */
const MAX_LENGTH = 512;
/** §3.3.1.5: members longer than this are the first to go when the list is cut */
const LONG_MEMBER = 128;

/**
 * The tracestate list to pass on, or "" when there is none or any member breaks a rule (then
 * §3.3.1.1 says not to propagate it at all). Several tracestate headers form one list in order
 * (Node joins them with ", "); empty members and optional whitespace around commas are dropped;
 * of duplicate keys the first is kept.
 */
export function parseTracestate(header: string | string[] | undefined): string {
  if (header === undefined) return '';
  const text = Array.isArray(header) ? header.join(',') : header;
  if (text.length === 0) return '';
  const seen = new Set<string>();
  const members: string[] = [];
  for (const raw of text.split(',')) {
    const member = raw.replace(/^[ \t]+|[ \t]+$/g, '');
    if (member === '') continue;
    const eq = member.indexOf('=');
    if (eq <= 0) return '';
    const key = member.slice(0, eq);
    const value = member.slice(eq + 1);
    if (!TRACESTATE_KEY.test(key) || !TRACESTATE_VALUE.test(value)) return '';
    if (seen.has(key)) continue;
    seen.add(key);
    if (members.push(member) > MAX_MEMBERS) return '';
  }
  const list = members.join(',');
  return list.length <= MAX_LENGTH ? list : cutToFit(members, list.length);
}

/**
 * §3.3.1.5's truncation: whole members are removed, the longest of those over 128 characters
 * first, then from the end, until the list fits in 512 characters.
 */
function cutToFit(members: string[], length: number): string {
  while (length > MAX_LENGTH) {
    let drop = -1;
    for (let i = 0; i < members.length; i++) {
      if (members[i].length > LONG_MEMBER && (drop < 0 || members[i].length >= members[drop].length)) drop = i;
    }
    if (drop < 0) drop = members.length - 1;
    length -= members[drop].length + 1;
    members.splice(drop, 1);
  }
  return members.join(',');
}

/** B3 single header: {traceid}-{spanid}[-{sampled}[-{parentspanid}]], or a sampling state alone ("0", "1", "d"). */
function parseB3Single(value: string): Omit<ParentContext, 'traceState' | 'remote'> | undefined {
  const parts = value.trim().toLowerCase().split('-');
  if (parts.length === 1) return decisionOnly(b3Sampled(parts[0]));
  if (parts.length > 4) return undefined;
  const traceId = padTraceId(parts[0]);
  const spanId = parts[1];
  if (!traceId || !HEX16.test(spanId) || spanId === ZERO16) return undefined;
  const sampled = parts.length >= 3 ? b3Sampled(parts[2]) : undefined;
  if (sampled === null || (parts.length === 4 && !HEX16.test(parts[3]))) return undefined;
  return { traceId, spanId, flags: sampled ? SAMPLED : 0, sampled };
}

/** B3 multiple headers: X-B3-TraceId and X-B3-SpanId with X-B3-Sampled or X-B3-Flags, or either of those alone. */
function parseB3Multi(headers: IncomingHttpHeaders): Omit<ParentContext, 'traceState' | 'remote'> | undefined {
  const sampled = b3MultiSampled(headers);
  if (sampled === null) return undefined;
  const rawTrace = headers['x-b3-traceid'];
  const rawSpan = headers['x-b3-spanid'];
  if (rawTrace === undefined && rawSpan === undefined) return decisionOnly(sampled);
  if (typeof rawTrace !== 'string' || typeof rawSpan !== 'string') return undefined;
  const traceId = padTraceId(rawTrace.trim().toLowerCase());
  const spanId = rawSpan.trim().toLowerCase();
  if (!traceId || !HEX16.test(spanId) || spanId === ZERO16) return undefined;
  return { traceId, spanId, flags: sampled ? SAMPLED : 0, sampled };
}

/** X-B3-Flags: 1 (debug, which implies sampled), else X-B3-Sampled; undefined when deferred, null when malformed */
function b3MultiSampled(headers: IncomingHttpHeaders): boolean | undefined | null {
  if (headers['x-b3-flags'] === '1') return true;
  const value = headers['x-b3-sampled'];
  if (value === undefined) return undefined;
  return typeof value === 'string' ? b3Sampled(value.trim().toLowerCase()) : null;
}

/** A sampling decision sent without ids: a new trace that keeps it. Nothing to continue without one. */
function decisionOnly(sampled: boolean | undefined | null): Omit<ParentContext, 'traceState' | 'remote'> | undefined {
  if (sampled === undefined || sampled === null) return undefined;
  return { traceId: newTraceId(), spanId: '', flags: sampled ? SAMPLED : 0, sampled };
}

/** 64-bit B3 trace ids are left-padded to W3C's 128 bits. */
function padTraceId(id: string): string | undefined {
  const padded = id.length === 16 ? ZERO16 + id : id;
  return HEX32.test(padded) && padded !== ZERO32 ? padded : undefined;
}

/** "1"/"d"/"true" sampled, "0"/"false" not; anything else is malformed (null). */
function b3Sampled(value: string): boolean | null {
  if (value === '1' || value === 'd' || value === 'true') return true;
  if (value === '0' || value === 'false') return false;
  return null;
}

const isB3Multi = (headers: IncomingHttpHeaders) =>
  headers['x-b3-traceid'] !== undefined || headers['x-b3-sampled'] !== undefined || headers['x-b3-flags'] !== undefined;

/**
 * The parent a request carries: a valid W3C traceparent wins (with its tracestate), else B3
 * single, else B3 multi; undefined when none is valid, and the span starts a new trace.
 * A B3 sampling decision sent without ids gives a parent with spanId "" (see ParentContext).
 */
export function extractParent(headers: IncomingHttpHeaders): ParentContext | undefined {
  const tp = headers.traceparent;
  if (tp !== undefined) {
    const parsed = parseTraceparent(tp);
    if (parsed) return { ...parsed, sampled: (parsed.flags & SAMPLED) === SAMPLED, traceState: parseTracestate(headers.tracestate), remote: true };
  }
  const single = headers.b3;
  if (typeof single === 'string') {
    const parsed = parseB3Single(single);
    if (parsed) return { ...parsed, traceState: '', remote: parsed.spanId !== '' };
  }
  if (isB3Multi(headers)) {
    const parsed = parseB3Multi(headers);
    if (parsed) return { ...parsed, traceState: '', remote: parsed.spanId !== '' };
  }
  return undefined;
}

/** How the caller encoded B3, if it did: the next hop gets the same encoding, even when the ids were unusable or absent. */
export function b3EncodingOf(headers: IncomingHttpHeaders): B3Encoding {
  if (headers.b3 !== undefined) return B3Encoding.Single;
  if (isB3Multi(headers)) return B3Encoding.Multi;
  return B3Encoding.None;
}

const FLAG_TEXT = ['00', '01', '02', '03'];

/** W3C traceparent (and traceresponse) value. */
export function traceparent(traceId: string, spanId: string, flags: number): string {
  return `00-${traceId}-${spanId}-${FLAG_TEXT[flags & 3]}`;
}

/** A new span's trace-flags: its own sampling decision, and the parent's other flags (Level 2 "random") carried on. */
export function spanFlags(sampled: boolean, parent: TraceParent | undefined): number {
  return (sampled ? SAMPLED : 0) | (parent ? parent.flags & ~SAMPLED : 0);
}

/** Pushes the headers that carry `span` to the next hop onto a flat [name, value, …] list. */
export function pushTraceHeaders(out: string[], span: SpanIds, traceState: string, encoding: B3Encoding): void {
  out.push('traceparent', traceparent(span.traceId, span.spanId, span.traceFlags));
  if (traceState) out.push('tracestate', traceState);
  const sampled = span.traceFlags & SAMPLED ? '1' : '0';
  if (encoding === B3Encoding.Single) {
    out.push('b3', `${span.traceId}-${span.spanId}-${sampled}`);
  } else if (encoding === B3Encoding.Multi) {
    out.push('x-b3-traceid', span.traceId, 'x-b3-spanid', span.spanId, 'x-b3-sampled', sampled);
  }
}
