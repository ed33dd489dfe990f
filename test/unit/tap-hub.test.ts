// The tap hub on a real in-process HTTP server: SSE heartbeats keep a quiet stream open, only
// while someone listens, and a record goes once to each matching client.
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseTapFilter } from '../../src/tap/filter.js';
import { TapHub } from '../../src/tap/hub.js';
import { until } from '../helpers/http.js';

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? (server.closeAllConnections(), server.close(() => resolve())) : resolve())));

async function serve(hub: TapHub, query: string): Promise<{ text(): string; close(): void }> {
  server = createServer((req, res) => hub.attach(res, parseTapFilter(new URLSearchParams(query)), req.headers.accept === 'text/event-stream' ? 'sse' : 'ndjson'));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return new Promise((resolve) => {
    const req = request({ port, host: '127.0.0.1', headers: { accept: 'text/event-stream' } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      resolve({ text: () => text, close: () => req.destroy() });
    });
    req.end();
  });
}

describe('TapHub', () => {
  it('sends SSE heartbeats to a quiet stream, and stops counting the client once it leaves', async () => {
    const hub = new TapHub({ maxClients: 2, maxLinesPerSecond: 10, maxBufferBytes: 4096 }, 20);
    const client = await serve(hub, '');
    await until(() => client.text().split(':\n\n').length > 3, 5_000, 'three heartbeats');
    expect(hub.clients).toBe(1);
    client.close();
    await until(() => hub.clients === 0, 5_000, 'the hub to see the client leave');
  });

  it('publishes a matching record once per client, and nothing for a filter that does not match', async () => {
    const hub = new TapHub({ maxClients: 2, maxLinesPerSecond: 10, maxBufferBytes: 4096 }, 60_000);
    const client = await serve(hub, 'listener=egress');
    const base = { time: 't', requestId: 'r', traceId: '', upstream: 'app', durationMs: 1, bytesIn: 0, bytesOut: 0, error: '' };
    hub.publish({ ...base, kind: 'exchange', listener: 'ingress' });
    hub.publish({ ...base, kind: 'tunnel', listener: 'egress' });
    await until(() => client.text().includes('"kind":"tunnel"'), 5_000, 'the tunnel record');
    expect(client.text().match(/^data: /gm)).toHaveLength(1);
    expect(hub.counts.lines).toBe(1);
    client.close();
  });
});
