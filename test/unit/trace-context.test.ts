// Trace context parsing and header rewriting, without sockets: each rule of W3C Trace Context
// (§3.2 traceparent, §3.3 tracestate) that the W3C test suite checks at STRICT_LEVEL=2, and B3.
import { describe, expect, it } from 'vitest';
import { B3Encoding, b3EncodingOf, extractParent, parseTraceparent, parseTracestate, pushTraceHeaders, spanFlags, traceparent } from '../../src/telemetry/trace-context.js';

const tid = '0af7651916cd43dd8448eb211c80319c';
const sid = 'b7ad6b7169203331';

describe('traceparent', () => {
  it('reads version 00 with exactly four fields', () => {
    expect(parseTraceparent(`00-${tid}-${sid}-01`)).toEqual({ traceId: tid, spanId: sid, flags: 1 });
    expect(parseTraceparent(`00-${tid}-${sid}-00`)).toEqual({ traceId: tid, spanId: sid, flags: 0 });
  });

  it('ignores optional whitespace around the value', () => {
    for (const v of [` 00-${tid}-${sid}-01`, `\t00-${tid}-${sid}-01`, `00-${tid}-${sid}-01 `, `\t 00-${tid}-${sid}-01 \t`]) {
      expect(parseTraceparent(v)?.traceId, JSON.stringify(v)).toBe(tid);
    }
  });

  it('reads a future version by its first four fields, but never version ff', () => {
    expect(parseTraceparent(`cc-${tid}-${sid}-01`)?.traceId).toBe(tid);
    expect(parseTraceparent(`cc-${tid}-${sid}-01-what-the-future-will-be-like`)?.traceId).toBe(tid);
    expect(parseTraceparent(`cc-${tid}-${sid}-01.what-the-future-will-be-like`)).toBeUndefined();
    expect(parseTraceparent(`ff-${tid}-${sid}-01`)).toBeUndefined();
    expect(parseTraceparent(`00-${tid}-${sid}-01-extra`)).toBeUndefined();
  });

  it('refuses malformed fields', () => {
    const bad = [
      `.0-${tid}-${sid}-01`, // version illegal characters
      `000-${tid}-${sid}-01`, // version too long
      `0-${tid}-${sid}-01`, // version too short
      `00-${'0'.repeat(32)}-${sid}-01`, // all-zero trace id
      `00-${tid.slice(0, 31)}.-${sid}-01`, // trace id illegal characters
      `00-${tid}0-${sid}-01`, // trace id too long
      `00-${tid.slice(1)}-${sid}-01`, // trace id too short
      `00-${tid}-${'0'.repeat(16)}-01`, // all-zero parent id
      `00-${tid}-${sid.slice(0, 15)}.-01`, // parent id illegal characters
      `00-${tid}-${sid}0-01`, // parent id too long
      `00-${tid}-${sid.slice(1)}-01`, // parent id too short
      `00-${tid}-${sid}-.0`, // flags illegal characters
      `00-${tid}-${sid}-010`, // flags too long
      `00-${tid}-${sid}-1`, // flags too short
      `00-${tid.toUpperCase()}-${sid}-01`, // uppercase hex
      `00-${'a'.repeat(10_000)}-${sid}-01`,
      '',
    ];
    for (const v of bad) expect(parseTraceparent(v), v.slice(0, 70)).toBeUndefined();
  });

  it('is ambiguous, so ignored, when sent twice', () => {
    expect(parseTraceparent([`00-${tid}-${sid}-01`, `00-${tid}-${sid}-01`])).toBeUndefined();
    // Node joins repeated unknown headers with ", ", which no longer parses either.
    expect(parseTraceparent(`00-${tid}-${sid}-01, 00-${tid}-${sid}-01`)).toBeUndefined();
  });

  it('keeps the sampled and random flags and clears the bits no level defines', () => {
    expect(parseTraceparent(`00-${tid}-${sid}-02`)?.flags).toBe(2);
    expect(parseTraceparent(`00-${tid}-${sid}-ff`)?.flags).toBe(3);
    expect(traceparent(tid, sid, 3)).toBe(`00-${tid}-${sid}-03`);
  });
});

describe('tracestate', () => {
  it('joins several headers into one list, in order', () => {
    expect(parseTracestate(['foo=1,bar=2', 'rojo=1,congo=2', 'baz=3'])).toBe('foo=1,bar=2,rojo=1,congo=2,baz=3');
    // Node's own join of repeated headers reads the same.
    expect(parseTracestate('foo=1,bar=2, rojo=1,congo=2, baz=3')).toBe('foo=1,bar=2,rojo=1,congo=2,baz=3');
  });

  it('drops empty headers and members, and whitespace around commas', () => {
    expect(parseTracestate('')).toBe('');
    expect(parseTracestate(['foo=1', ''])).toBe('foo=1');
    expect(parseTracestate(['', 'foo=1'])).toBe('foo=1');
    expect(parseTracestate('foo=1 \t , \t bar=2, \t baz=3')).toBe('foo=1,bar=2,baz=3');
    expect(parseTracestate('foo=1\t \t,\t \tbar=2,\t \tbaz=3')).toBe('foo=1,bar=2,baz=3');
    expect(parseTracestate('\t foo=1 \t')).toBe('foo=1');
    expect(parseTracestate('foo=1,,bar=2')).toBe('foo=1,bar=2');
  });

  it('accepts every character the grammar allows, in keys with and without @', () => {
    const key = 'abcdefghijklmnopqrstuvwxyz0123456789_-*/';
    let value = '';
    for (let c = 0x20; c <= 0x7e; c++) if (c !== 0x2c && c !== 0x3d) value += String.fromCharCode(c);
    expect(parseTracestate(`${key}=${value}`)).toBe(`${key}=${value}`);
    expect(parseTracestate(`${key}@a-z0-9_-*/=${value}`)).toBe(`${key}@a-z0-9_-*/=${value}`);
    for (const k of ['foo@', 'foo@@bar', 'foo@bar@baz', 't@' + 'v'.repeat(15), 't'.repeat(241) + '@' + 'v'.repeat(14), 't'.repeat(242) + '@v', 'z'.repeat(256)]) {
      expect(parseTracestate(`${k}=1,bar=2`), k.slice(0, 30)).toBe(`${k}=1,bar=2`);
    }
  });

  it('drops the whole list when one key breaks the grammar', () => {
    for (const member of ['@foo=1', 'foo =1', 'FOO=1', 'foo.bar=1', 'z'.repeat(257) + '=1', '=1', 'foo']) {
      expect(parseTracestate(['bar=2', member]), member.slice(0, 30)).toBe('');
    }
  });

  it('drops the whole list when one value breaks the grammar', () => {
    for (const member of ['foo=bar=baz', 'foo=', 'foo=' + 'v'.repeat(257), 'foo=caf\u00e9', 'foo=a\tb']) {
      expect(parseTracestate(`${member},bar=3`), member.slice(0, 30)).toBe('');
    }
  });

  it('takes at most 32 members', () => {
    const members = Array.from({ length: 33 }, (_, i) => `bar${String(i + 1).padStart(2, '0')}=${i}`);
    expect(parseTracestate(members.slice(0, 32).join(','))).toBe(members.slice(0, 32).join(','));
    expect(parseTracestate(members.join(','))).toBe('');
  });

  it('keeps the first of duplicate keys', () => {
    expect(parseTracestate('foo=1,foo=1')).toBe('foo=1');
    expect(parseTracestate(['foo=1', 'foo=2'])).toBe('foo=1');
  });

  describe('over 512 characters: cut to fit, whole members at a time (§3.3.1.5)', () => {
    /** a member of exactly `length` characters (a value holds at most 256) */
    const member = (key: string, length: number) => `${key}=${'v'.repeat(length - key.length - 1)}`;

    it('keeps a list of exactly 512 characters as it is', () => {
      const list = [member('rojo', 200), member('congo', 200), member('k', 110)].join(',');
      expect(list.length).toBe(512);
      expect(parseTracestate(list)).toBe(list);
    });

    it('removes members from the end when none is over 128 characters', () => {
      const members = Array.from({ length: 6 }, (_, i) => member(`k${i}`, 101));
      expect(parseTracestate(members.join(','))).toBe(members.slice(0, 5).join(','));
      expect(parseTracestate(['rojo=00f067aa0ba902b7,congo=t61rcWkgMzE', ...members].join(','))).toBe(['rojo=00f067aa0ba902b7,congo=t61rcWkgMzE', ...members.slice(0, 4)].join(','));
    });

    it('removes the longest member over 128 characters first, and only as many as it takes', () => {
      const list = ['rojo=00f067aa0ba902b7', member('big', 250), 'congo=t61rcWkgMzE', member('mid', 200), member('small', 129), member('tail', 100)];
      // 21 + 250 + 17 + 200 + 129 + 100 + 5 commas = 722: without the 250, 472 fits.
      expect(parseTracestate(list.join(','))).toBe([list[0], list[2], list[3], list[4], list[5]].join(','));
    });

    it('then goes on from the end once no long member is left', () => {
      const list = ['rojo=00f067aa0ba902b7', member('big', 250), member('a', 120), member('b', 120), member('c', 120), member('d', 120), 'congo=t61rcWkgMzE'];
      // without the 250: 21 + 4 × 120 + 17 + 5 commas = 523, still over, so congo goes; 505 fits.
      expect(parseTracestate(list.join(','))).toBe(list.slice(0, 1).concat(list.slice(2, 6)).join(','));
    });

    it('of equally long members, removes the later one', () => {
      const list = [member('first', 200), member('second', 200), member('third', 200)];
      expect(parseTracestate(list.join(','))).toBe(list.slice(0, 2).join(','));
    });

    it('leaves nothing of a single member longer than 512 characters', () => {
      const key = 'k'.repeat(256);
      expect(parseTracestate(`${key}=${'v'.repeat(256)}`)).toBe('');
      expect(parseTracestate(`${key}=${'v'.repeat(256)},rojo=00f067aa0ba902b7`)).toBe('rojo=00f067aa0ba902b7');
    });
  });
});

describe('extractParent', () => {
  it('reads W3C first (with its tracestate), then B3 single, then B3 multi', () => {
    expect(extractParent({ traceparent: `00-${tid}-${sid}-01`, tracestate: 'vendor=x' })).toEqual({ traceId: tid, spanId: sid, flags: 1, sampled: true, traceState: 'vendor=x', remote: true });
    expect(extractParent({ b3: `${tid}-${sid}-1` })).toMatchObject({ traceId: tid, spanId: sid, sampled: true });
    expect(extractParent({ 'x-b3-traceid': tid, 'x-b3-spanid': sid, 'x-b3-sampled': '0' })).toMatchObject({ traceId: tid, spanId: sid, sampled: false, flags: 0 });
    // An invalid traceparent falls back to B3 when present.
    expect(extractParent({ traceparent: 'junk', b3: `${tid}-${sid}-1` })?.traceId).toBe(tid);
  });

  it('takes tracestate only with a valid traceparent', () => {
    expect(extractParent({ tracestate: 'foo=1' })).toBeUndefined();
    expect(extractParent({ traceparent: `00-${tid}-${sid}-01`, tracestate: '@bad=1' })?.traceState).toBe('');
  });

  it('pads 64-bit B3 trace ids and leaves a missing sampled flag to the sampler', () => {
    expect(extractParent({ b3: `${tid.slice(16)}-${sid}` })).toMatchObject({ traceId: '0'.repeat(16) + tid.slice(16), sampled: undefined });
    expect(extractParent({ 'x-b3-traceid': tid, 'x-b3-spanid': sid, 'x-b3-flags': '1' })).toMatchObject({ sampled: true });
    expect(extractParent({ b3: `${tid}-${sid}-x` })).toBeUndefined();
  });

  it("reads the B3 spec's single-header examples, parent span id included", () => {
    const parent = 'e457b5a2e4d86bd1';
    expect(extractParent({ b3: `80f198ee56343ba864fe8b2a57d3eff7-05e3ac9a4f6e3b90-1-${parent}` })).toEqual({
      traceId: '80f198ee56343ba864fe8b2a57d3eff7',
      spanId: '05e3ac9a4f6e3b90',
      flags: 1,
      sampled: true,
      traceState: '',
      remote: true,
    });
    expect(extractParent({ b3: '80f198ee56343ba864fe8b2a57d3eff7-05e3ac9a4f6e3b90-d' })).toMatchObject({ sampled: true, flags: 1 });
    for (const bad of [`${tid}-${sid}-1-${parent.slice(1)}`, `${tid}-${sid}-1-${parent}x`, `${tid}-${sid}-1-${parent}-x`]) expect(extractParent({ b3: bad }), bad).toBeUndefined();
  });

  it('takes a B3 sampling decision sent alone as a new trace with that decision', () => {
    const alone = (headers: Record<string, string>) => {
      const parent = extractParent(headers);
      expect(parent?.traceId, JSON.stringify(headers)).toMatch(/^[0-9a-f]{32}$/);
      return { spanId: parent!.spanId, flags: parent!.flags, sampled: parent!.sampled, traceState: parent!.traceState };
    };
    const denied = { spanId: '', flags: 0, sampled: false, traceState: '' };
    const accepted = { spanId: '', flags: 1, sampled: true, traceState: '' };
    expect(alone({ b3: '0' })).toEqual(denied);
    expect(alone({ 'x-b3-sampled': '0' })).toEqual(denied);
    expect(alone({ b3: '1' })).toEqual(accepted);
    expect(alone({ b3: 'd' })).toEqual(accepted);
    expect(alone({ 'x-b3-sampled': '1' })).toEqual(accepted);
    expect(alone({ 'x-b3-flags': '1' })).toEqual(accepted); // debug implies accept
    expect(extractParent({ b3: '0' })!.traceId).not.toBe(extractParent({ b3: '0' })!.traceId);
    // The single header wins over the multiple ones; a valid traceparent over both.
    expect(alone({ b3: '0', 'x-b3-traceid': tid, 'x-b3-spanid': sid, 'x-b3-sampled': '1' })).toEqual(denied);
    expect(extractParent({ traceparent: `00-${tid}-${sid}-01`, b3: '0' })).toMatchObject({ traceId: tid, sampled: true });
    // Nothing to continue: no decision, or a malformed one.
    for (const headers of [{ b3: '' }, { b3: 'x' }, { b3: '2' }, { 'x-b3-sampled': 'x' }, { 'x-b3-flags': '0' }, { 'x-b3-spanid': sid, 'x-b3-sampled': '1' }]) {
      expect(extractParent(headers), JSON.stringify(headers)).toBeUndefined();
    }
  });

  it('answers in the encoding the caller used, a decision sent alone included', () => {
    expect(b3EncodingOf({ b3: '0' })).toBe(B3Encoding.Single);
    expect(b3EncodingOf({ 'x-b3-sampled': '0' })).toBe(B3Encoding.Multi);
    expect(b3EncodingOf({ 'x-b3-flags': '1' })).toBe(B3Encoding.Multi);
    expect(b3EncodingOf({ 'x-b3-traceid': tid })).toBe(B3Encoding.Multi);
    expect(b3EncodingOf({ traceparent: `00-${tid}-${sid}-01` })).toBe(B3Encoding.None);
  });

  it('gives nothing for malformed values', () => {
    for (const value of [`00-${tid.toUpperCase()}-${sid}-01`, `00-${'0'.repeat(32)}-${sid}-01`, `00-${tid}-${sid}-01-x`, `00-${'a'.repeat(10_000)}`, '']) {
      expect(extractParent({ traceparent: value })).toBeUndefined();
    }
    expect(extractParent({})).toBeUndefined();
  });
});

describe('pushTraceHeaders', () => {
  const span = { traceId: tid, spanId: '00f067aa0ba902b7', traceFlags: 1 };

  it("writes the span's traceparent, the tracestate carried on, and B3 in the caller's encoding", () => {
    const out = ['accept', '*/*'];
    pushTraceHeaders(out, span, 'k=v', B3Encoding.Single);
    expect(out).toEqual(['accept', '*/*', 'traceparent', traceparent(tid, span.spanId, 1), 'tracestate', 'k=v', 'b3', `${tid}-00f067aa0ba902b7-1`]);
  });

  it('writes B3 multi with the sampled flag, and no tracestate when there is none', () => {
    const out: string[] = [];
    pushTraceHeaders(out, { ...span, traceFlags: 2 }, '', B3Encoding.Multi);
    expect(out).toEqual(['traceparent', traceparent(tid, span.spanId, 2), 'x-b3-traceid', tid, 'x-b3-spanid', span.spanId, 'x-b3-sampled', '0']);
  });
});

describe('spanFlags', () => {
  it("is the span's own sampled bit plus the parent's other flags", () => {
    const parent = { traceId: tid, spanId: sid, flags: 3, sampled: true, traceState: '', remote: true };
    expect(spanFlags(false, parent)).toBe(2);
    expect(spanFlags(true, { ...parent, flags: 0 })).toBe(1);
    expect(spanFlags(true, undefined)).toBe(1);
  });
});
