// Trace context on the wire: extraction from node's request headers (W3C traceparent/tracestate,
// else B3 single or multi header) and the header values sidelight writes. Contexts are passed
// explicitly: there is no global context manager and no global propagator.
import type { IncomingHttpHeaders } from 'node:http';
import { ROOT_CONTEXT, type Context, type SpanContext, type TextMapGetter } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { B3Propagator } from '@opentelemetry/propagator-b3';

const w3c = new W3CTraceContextPropagator();
const b3 = new B3Propagator();

const getter: TextMapGetter<IncomingHttpHeaders> = {
  get: (carrier, key) => carrier[key],
  keys: (carrier) => Object.keys(carrier),
};

/** How the caller encoded its context; sidelight answers in kind towards the next hop. */
export const enum B3Encoding {
  None = 0,
  Single = 1,
  Multi = 2,
}

/** Request headers sidelight writes itself (the client's values are replaced, never copied). */
export const TRACE_HEADERS = ['traceparent', 'tracestate', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags'] as const;

export function b3EncodingOf(headers: IncomingHttpHeaders): B3Encoding {
  if (headers.b3 !== undefined) return B3Encoding.Single;
  if (headers['x-b3-traceid'] !== undefined) return B3Encoding.Multi;
  return B3Encoding.None;
}

/**
 * The parent context a request carries: a valid W3C traceparent wins, else B3. Anything malformed
 * (wrong length, all-zero ids, uppercase hex, extra fields on version 00, …) yields ROOT_CONTEXT,
 * so the span starts a new trace.
 */
export function extractParent(headers: IncomingHttpHeaders): Context {
  if (headers.traceparent !== undefined) {
    const ctx = w3c.extract(ROOT_CONTEXT, headers, getter);
    if (ctx !== ROOT_CONTEXT) return ctx;
  }
  if (headers.b3 !== undefined || headers['x-b3-traceid'] !== undefined) return b3.extract(ROOT_CONTEXT, headers, getter);
  return ROOT_CONTEXT;
}

const sampledFlag = (sc: SpanContext): string => ((sc.traceFlags & 1) === 1 ? '01' : '00');

/** W3C traceparent (and traceresponse) value for a span context. */
export function traceparent(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-${sampledFlag(sc)}`;
}

/** Pushes the context's headers onto a flat [name, value, …] list. */
export function pushTraceHeaders(out: string[], sc: SpanContext, encoding: B3Encoding): void {
  out.push('traceparent', traceparent(sc));
  const state = sc.traceState?.serialize();
  if (state) out.push('tracestate', state);
  if (encoding === B3Encoding.Single) {
    out.push('b3', `${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 1) === 1 ? '1' : '0'}`);
  } else if (encoding === B3Encoding.Multi) {
    out.push('x-b3-traceid', sc.traceId, 'x-b3-spanid', sc.spanId, 'x-b3-sampled', (sc.traceFlags & 1) === 1 ? '1' : '0');
  }
}

const OWNED = new Set<string>(TRACE_HEADERS);

type DispatchHeaders = readonly string[] | Record<string, string | string[] | undefined> | Iterable<[string, string | string[] | undefined]> | null | undefined;

/**
 * A copy of an undici header list without trace headers, with this context's instead, as a flat
 * [name, value, …] list (the proxy core always builds that form; the others are accepted too).
 */
export function replaceTraceHeaders(headers: DispatchHeaders, sc: SpanContext, encoding: B3Encoding): string[] {
  const out: string[] = [];
  const keep = (name: string, value: string | string[] | undefined) => {
    if (value === undefined || OWNED.has(name.toLowerCase())) return;
    if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else out.push(name, value);
  };
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i] as string;
      if (!OWNED.has(name) && !OWNED.has(name.toLowerCase())) out.push(name, headers[i + 1] as string);
    }
  } else if (headers && typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const [name, value] of headers as Iterable<[string, string | string[] | undefined]>) keep(name, value);
  } else if (headers) {
    for (const name of Object.keys(headers)) keep(name, (headers as Record<string, string | string[] | undefined>)[name]);
  }
  pushTraceHeaders(out, sc, encoding);
  return out;
}
