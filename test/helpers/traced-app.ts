// An app behind the sidecar that calls an external API through the sidecar's egress port, in
// three flavours chosen per request with ?propagate=:
//   trace       instrumented: the OpenTelemetry SDK (in this test process, in-memory exporter,
//               nothing global) makes a SERVER span from the incoming traceparent and a CLIENT
//               span for the outbound call, whose context goes out as traceparent;
//   request-id  uninstrumented, but forwards the X-Request-ID it received;
//   none        forwards nothing.
// GET /call/<upstream path>?propagate=… → calls `${egress}/<upstream path>` and answers
// {status, body, appSpans?}.
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ROOT_CONTEXT, SpanKind, trace, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';

export interface TracedApp {
  url: string;
  /** where the app's outbound calls go: the sidecar's egress URL */
  setEgress(url: string): void;
  /** spans the instrumented app finished */
  spans(): ReadableSpan[];
  close(): Promise<void>;
}

const getter: TextMapGetter<IncomingHttpHeaders> = { get: (c, k) => c[k], keys: (c) => Object.keys(c) };
const setter: TextMapSetter<Record<string, string>> = { set: (c, k, v) => void (c[k] = v) };

export async function startTracedApp(): Promise<TracedApp> {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer = provider.getTracer('traced-app');
  const propagator = new W3CTraceContextPropagator();
  let egress = '';

  const server: Server = createServer((req, res) => {
    req.resume();
    const url = new URL(req.url ?? '/', 'http://app');
    if (!url.pathname.startsWith('/call/')) {
      res.writeHead(404).end();
      return;
    }
    const mode = url.searchParams.get('propagate') ?? 'none';
    const headers: Record<string, string> = {};
    let finish = () => {};
    if (mode === 'trace') {
      const parent = propagator.extract(ROOT_CONTEXT, req.headers, getter);
      const serverSpan = tracer.startSpan('GET /call', { kind: SpanKind.SERVER }, parent);
      const clientSpan = tracer.startSpan('GET', { kind: SpanKind.CLIENT }, trace.setSpan(ROOT_CONTEXT, serverSpan));
      propagator.inject(trace.setSpan(ROOT_CONTEXT, clientSpan), headers, setter);
      finish = () => {
        clientSpan.end();
        serverSpan.end();
      };
    } else if (mode === 'request-id') {
      const id = req.headers['x-request-id'];
      if (typeof id === 'string') headers['x-request-id'] = id;
    }
    const out = request(`${egress}${url.pathname.slice('/call'.length)}`, { headers, agent: false }, (up) => {
      let body = '';
      up.setEncoding('utf8');
      up.on('data', (d: string) => (body += d));
      up.on('end', () => {
        finish();
        const text = JSON.stringify({ status: up.statusCode, body });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      });
    });
    out.on('error', (err) => {
      finish();
      res.writeHead(500).end(String(err));
    });
    out.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    setEgress: (u) => (egress = u),
    spans: () => exporter.getFinishedSpans(),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await provider.shutdown();
    },
  };
}
