// W3C Trace Context through the sidecar, the way the W3C test suite (github.com/w3c/trace-context,
// test/, STRICT_LEVEL=2) checks a service: the "harness" sends a request with trace headers to
// the service (sidelight's ingress in front of an app); the app calls the harness back through
// sidelight's egress; the harness reads the traceparent and tracestate of that callback. Each
// case below is one of the suite's, with its own expectation, run twice: with an app that
// forwards only X-Request-ID, and with one that forwards the trace headers it received.
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest } from '../helpers/raw-http.js';
import { startSidelight, type RunningSidelight } from '../helpers/sidelight.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

const TID = '12345678901234567890123456789012';
const PID = '1234567890123456';
const TP = `00-${TID}-${PID}-00`;
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

type Mode = 'request-id' | 'forward';
let harness: TestApp; // the egress upstream the app calls back
let service: Server; // the app behind sidelight
let sl: RunningSidelight;
let calls = 0;

/** GET /?mode=…&n=N: calls the harness N times through egress, forwarding what `mode` says. */
function startService(): Promise<Server> {
  const server = createServer((req, res) => {
    req.resume();
    const url = new URL(req.url ?? '/', 'http://service');
    const mode = url.searchParams.get('mode') as Mode;
    const id = url.searchParams.get('id')!;
    const n = Number(url.searchParams.get('n') ?? 1);
    // A flat header list keeps repeated tracestate lines apart; Node then adds no Host of its own.
    const forward: string[] = ['host', new URL(sl.egress).host, 'x-request-id', String(req.headers['x-request-id'])];
    if (mode === 'forward') {
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i].toLowerCase();
        if (name === 'traceparent' || name === 'tracestate') forward.push(name, req.rawHeaders[i + 1]);
      }
    }
    let done = 0;
    const next = () => {
      if (done === n) return void res.writeHead(200).end('ok');
      const out = request(`${sl.egress}/harness/callback/${id}/${done}`, { headers: forward }, (answer) => {
        answer.resume();
        answer.on('end', () => {
          done++;
          next();
        });
      });
      out.end();
    };
    next();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

beforeAll(async () => {
  harness = await startTestApp();
  service = await startService();
  sl = await startSidelight({
    config: {
      ingress: { app: `http://127.0.0.1:${(service.address() as AddressInfo).port}` },
      egress: { upstreams: { harness: { url: harness.url } } },
      tracing: { exporter: 'console', sampleRatio: 0 },
      logging: { accessLog: false },
    },
    env: { OTEL_TRACES_EXPORTER: 'console' },
  });
});
afterAll(async () => {
  await sl?.stop();
  await new Promise((resolve) => service?.close(resolve));
  await harness?.close();
});

interface Callback {
  traceparent: { version: string; traceId: string; parentId: string; flags: number };
  /** the suite's reading: every tracestate header, split on OWS-commas, first key wins */
  tracestate: Map<string, string>;
}

/** Sends the request exactly as the harness would and returns what the callbacks carried. */
async function exchange(mode: Mode, headers: Array<[string, string]>, n = 1): Promise<Callback[]> {
  const id = `c${++calls}`;
  const lines = headers.map(([k, v]) => `${k}: ${v}\r\n`).join('');
  const answer = await rawRequest(sl.ingress, `GET /?mode=${mode}&id=${id}&n=${n} HTTP/1.1\r\nhost: service\r\n${lines}connection: close\r\n\r\n`);
  expect(answer.status).toBe(200);
  const out: Callback[] = [];
  for (let i = 0; i < n; i++) {
    const got = harness.received.find((r) => r.url === `/callback/${id}/${i}`)!;
    expect(got, `callback ${i}`).toBeDefined();
    const parents: string[] = [];
    const state = new Map<string, string>();
    for (let j = 0; j < got.rawHeaders.length; j += 2) {
      const name = got.rawHeaders[j].toLowerCase();
      const value = got.rawHeaders[j + 1];
      if (name === 'traceparent') parents.push(value);
      if (name === 'tracestate') {
        for (const member of value.split(/[ \t]*,[ \t]*/)) {
          const m = /^([^=]+)=(.*)$/.exec(member);
          if (m && !state.has(m[1])) state.set(m[1], m[2]);
        }
      }
    }
    expect(parents, 'exactly one traceparent').toHaveLength(1);
    const [, version, traceId, parentId, flags] = TRACEPARENT.exec(parents[0]) ?? [];
    expect(traceId, parents[0]).toBeDefined();
    out.push({ traceparent: { version, traceId, parentId, flags: parseInt(flags, 16) }, tracestate: state });
  }
  return out;
}

const one = async (mode: Mode, headers: Array<[string, string]>) => (await exchange(mode, headers))[0];

for (const mode of ['request-id', 'forward'] as const) {
  describe(`an app that forwards ${mode === 'forward' ? 'the trace headers it received' : 'only X-Request-ID'}`, () => {
    it('traceparent: continues a valid one, with a new parent id', async () => {
      expect((await one(mode, [])).traceparent.traceId).toMatch(/^[0-9a-f]{32}$/);
      const got = await one(mode, [['traceparent', TP]]);
      expect(got.traceparent).toMatchObject({ version: '00', traceId: TID });
      expect(got.traceparent.parentId).not.toBe(PID);
      for (const name of ['TraceParent', 'TrAcEpArEnT', 'TRACEPARENT']) expect((await one(mode, [[name, TP]])).traceparent.traceId).toBe(TID);
      for (const value of [` ${TP}`, `\t${TP}`, `${TP} `, `${TP}\t`, `\t ${TP} \t`]) expect((await one(mode, [['traceparent', value]])).traceparent.traceId).toBe(TID);
      expect((await one(mode, [['traceparent', `cc-${TID}-${PID}-01-what-the-future-will-be-like`]])).traceparent.traceId).toBe(TID);
    });

    it('traceparent: starts a new trace for every malformed or ambiguous one', async () => {
      const bad: Array<Array<[string, string]>> = [
        [['traceparent', `00-${TID}-${PID}-01`], ['traceparent', `00-${TID.replace('1', '3')}-${PID}-01`]],
        [['trace-parent', TP]],
        [['trace.parent', TP]],
        [['traceparent', `ff-${TID}-${PID}-01`]],
        [['traceparent', `cc-${TID}-${PID}-01.what-the-future-will-be-like`]],
        [['traceparent', `.0-${TID}-${PID}-01`]],
        [['traceparent', `000-${TID}-${PID}-01`]],
        [['traceparent', `0-${TID}-${PID}-01`]],
        [['traceparent', `00-${'0'.repeat(32)}-${PID}-01`]],
        [['traceparent', `00-${TID.slice(0, 31)}.-${PID}-01`]],
        [['traceparent', `00-${TID}0-${PID}-01`]],
        [['traceparent', `00-${TID.slice(1)}-${PID}-01`]],
        [['traceparent', `00-${TID}-${'0'.repeat(16)}-01`]],
        [['traceparent', `00-${TID}-${PID.slice(0, 15)}.-01`]],
        [['traceparent', `00-${TID}-${PID}0-01`]],
        [['traceparent', `00-${TID}-${PID.slice(1)}-01`]],
        [['traceparent', `00-${TID}-${PID}-.0`]],
        [['traceparent', `00-${TID}-${PID}-010`]],
        [['traceparent', `00-${TID}-${PID}-1`]],
      ];
      for (const headers of bad) {
        const got = await one(mode, headers);
        expect(got.traceparent.traceId, JSON.stringify(headers)).not.toBe(TID);
        expect(got.traceparent.traceId).not.toBe(TID.replace('1', '3'));
      }
    });

    it('tracestate: inherited with the trace, merged across headers in order, dropped without a traceparent', async () => {
      expect((await one(mode, [['traceparent', TP], ['tracestate', 'foo=1,bar=2']])).tracestate).toEqual(new Map([['foo', '1'], ['bar', '2']]));
      for (const name of ['TraceState', 'TrAcEsTaTe', 'TRACESTATE']) expect((await one(mode, [['traceparent', TP], [name, 'foo=1']])).tracestate.get('foo')).toBe('1');
      for (const name of ['trace-state', 'trace.state']) expect((await one(mode, [['traceparent', TP], [name, 'foo=1']])).tracestate.size).toBe(0);
      expect((await one(mode, [['tracestate', 'foo=1']])).tracestate.size).toBe((await one(mode, [['tracestate', 'foo=1,bar=2']])).tracestate.size);
      const merged = await one(mode, [['traceparent', TP], ['tracestate', 'foo=1,bar=2'], ['tracestate', 'rojo=1,congo=2'], ['tracestate', 'baz=3']]);
      expect([...merged.tracestate.keys()]).toEqual(['foo', 'bar', 'rojo', 'congo', 'baz']);
      expect(merged.traceparent.traceId).toBe(TID);
    });

    it('tracestate: empty headers and members, whitespace and duplicate keys', async () => {
      expect((await one(mode, [['traceparent', TP], ['tracestate', '']])).traceparent.traceId).toBe(TID);
      expect((await one(mode, [['traceparent', TP], ['tracestate', 'foo=1'], ['tracestate', '']])).tracestate.get('foo')).toBe('1');
      expect((await one(mode, [['traceparent', TP], ['tracestate', ''], ['tracestate', 'foo=1']])).tracestate.get('foo')).toBe('1');
      for (const value of ['foo=1 \t , \t bar=2, \t baz=3', 'foo=1\t \t,\t \tbar=2,\t \tbaz=3']) {
        expect((await one(mode, [['traceparent', TP], ['tracestate', value]])).tracestate).toEqual(new Map([['foo', '1'], ['bar', '2'], ['baz', '3']]));
      }
      for (const value of [' foo=1', '\tfoo=1', 'foo=1 ', 'foo=1\t', '\t foo=1 \t']) expect((await one(mode, [['traceparent', TP], ['tracestate', value]])).tracestate.get('foo')).toBe('1');
      expect((await one(mode, [['traceparent', TP], ['tracestate', 'foo=1,foo=1']])).tracestate.get('foo')).toBe('1');
      expect(['1', '2']).toContain((await one(mode, [['traceparent', TP], ['tracestate', 'foo=1'], ['tracestate', 'foo=2']])).tracestate.get('foo'));
    });

    it('tracestate: every allowed character; keys with @ and up to 256 characters', async () => {
      const key = 'abcdefghijklmnopqrstuvwxyz0123456789_-*/';
      let value = '';
      for (let c = 0x20; c <= 0x7e; c++) if (c !== 0x2c && c !== 0x3d) value += String.fromCharCode(c);
      for (const k of [key, `${key}@a-z0-9_-*/`]) expect((await one(mode, [['traceparent', TP], ['tracestate', `${k}=${value}`]])).tracestate.get(k)).toBe(value);
      for (const k of ['foo@', 'foo@@bar', 'foo@bar@baz']) {
        const got = await one(mode, [['traceparent', TP], ['tracestate', `${k}=1,bar=2`]]);
        expect(got.tracestate.get(k)).toBe('1');
        expect(got.tracestate.get('bar')).toBe('2');
      }
      for (const k of ['z'.repeat(256), 't'.repeat(241) + '@' + 'v'.repeat(14), 't'.repeat(242) + '@v', 't@' + 'v'.repeat(15)]) {
        const got = await one(mode, [['traceparent', TP], ['tracestate', 'foo=1'], ['tracestate', `${k}=1`]]);
        expect(got.tracestate.get('foo')).toBe('1');
        expect(got.tracestate.get(k)).toBe('1');
      }
    });

    it('tracestate: dropped whole when a key, a value or the member count breaks the rules', async () => {
      const dropped: Array<Array<[string, string]>> = [
        [['tracestate', 'foo =1']],
        [['tracestate', 'FOO=1']],
        [['tracestate', 'foo.bar=1']],
        [['tracestate', '@foo=1,bar=2']],
        [['tracestate', 'foo=1'], ['tracestate', 'z'.repeat(257) + '=1']],
        [['tracestate', 'foo=bar=baz']],
        [['tracestate', 'foo=,bar=3']],
      ];
      for (const headers of dropped) {
        const got = await one(mode, [['traceparent', TP], ...headers]);
        expect(got.traceparent.traceId).toBe(TID);
        expect([...got.tracestate.keys()], JSON.stringify(headers).slice(0, 80)).toEqual([]);
      }
      const members = Array.from({ length: 33 }, (_, i) => `bar${String(i + 1).padStart(2, '0')}=${String(i + 1).padStart(2, '0')}`);
      const lines = (list: string[]): Array<[string, string]> => [0, 10, 20, 30].map((i) => ['tracestate', list.slice(i, i + 10).join(',')] as [string, string]);
      expect((await one(mode, [['traceparent', TP], ...lines(members.slice(0, 32))])).tracestate.size).toBe(32);
      expect((await one(mode, [['traceparent', TP], ...lines(members)])).tracestate.size).toBe(0);
    });

    it('tracestate: over 512 characters, cut to fit by whole members, those over 128 first, then from the end', async () => {
      const short = (i: number) => `k${i}=${'v'.repeat(95)}`; // 98 characters
      const withLong = ['rojo=00f067aa0ba902b7', `big=${'v'.repeat(200)}`, short(0), short(1), short(2), short(3), 'congo=t61rcWkgMzE'];
      expect(withLong.join(',').length).toBe(640);
      expect([...(await one(mode, [['traceparent', TP], ['tracestate', withLong.join(',')]])).tracestate.keys()]).toEqual(['rojo', 'k0', 'k1', 'k2', 'k3', 'congo']);
      const even = Array.from({ length: 6 }, (_, i) => `${short(i)}vvv`); // 101 characters each, 611 in all
      expect([...(await one(mode, [['traceparent', TP], ['tracestate', even.join(',')]])).tracestate.keys()]).toEqual(['k0', 'k1', 'k2', 'k3', 'k4']);
    });

    it('several callbacks share the trace and each has its own parent id', async () => {
      const valid = await exchange(mode, [['traceparent', `00-${TID}-${PID}-01`]], 3);
      expect(new Set(valid.map((c) => c.traceparent.traceId))).toEqual(new Set([TID]));
      expect(new Set(valid.map((c) => c.traceparent.parentId)).size).toBe(3);
      const none = await exchange(mode, [], 3);
      expect(new Set(none.map((c) => c.traceparent.parentId)).size).toBe(3);
      const illegal = await exchange(mode, [['traceparent', `00-${'0'.repeat(32)}-${PID}-01`]], 3);
      expect(illegal.map((c) => c.traceparent.traceId)).not.toContain('0'.repeat(32));
      expect(new Set(illegal.map((c) => c.traceparent.parentId)).size).toBe(3);
    });

    it('keeps the Level 2 random flag it was given', async () => {
      const got = await one(mode, [['traceparent', `00-${TID}-${PID}-02`]]);
      expect(got.traceparent.traceId).toBe(TID);
      expect(got.traceparent.flags & 2).toBe(2);
    });
  });
}
