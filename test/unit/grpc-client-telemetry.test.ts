// The egress per-try interceptors on gRPC tries: composed onto undici's h2c client, as an
// upstream's dispatcher is, and sending real calls to a real grpc-js app. Each try gets its
// rpc_client_call_duration_seconds observation and its client span with the status the app
// answered, from the trailers or a trailers-only answer; a try that got no answer is typed by
// what failed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { H2CClient, type Dispatcher } from 'undici';
import { clientMetricsInterceptor } from '../../src/egress/dispatch/client-metrics.js';
import { clientTracingInterceptor } from '../../src/egress/dispatch/client-tracing.js';
import { GrpcFaults } from '../../src/net/grpc-faults.js';
import { DEFAULT_GRPC_ERROR_CODES } from '../../src/net/grpc-status.js';
import { h2TrailersInterceptor } from '../../src/proxy/h2-trailers.js';
import { UpstreamGrpcMethods } from '../../src/telemetry/grpc-methods.js';
import { InflightSpans } from '../../src/telemetry/inflight-spans.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { RpcMetrics } from '../../src/telemetry/rpc-metrics.js';
import type { SpanRecord } from '../../src/telemetry/spans/span-record.js';
import type { Tracing } from '../../src/telemetry/tracing.js';
import { startGrpcApp, type GrpcApp } from '../helpers/grpc-app.js';

const METHOD = 'sidelight.test.v1.Echo/Say';

/** one length-prefixed gRPC message: EchoRequest { fail_code } (field 2, varint), or empty */
function frame(failCode: number): Buffer {
  const message = failCode > 0 ? Buffer.from([0x10, failCode]) : Buffer.alloc(0);
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

/** the finished spans, kept as the exporter would get them */
function collectingTracing(spans: SpanRecord[]): Tracing {
  return { sample: () => true, inflight: new InflightSpans(1000), record: (s) => spans.push(s), shutdown: async () => {} };
}

function attributes(span: SpanRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < span.attributes.length; i += 2) out[(span.attributes[i] as { name: string }).name] = span.attributes[i + 1];
  return out;
}

describe('gRPC tries to an upstream', () => {
  let app: GrpcApp;
  const spans: SpanRecord[] = [];
  const metrics = new Metrics({ maxSeries: 2000 });
  const methods = new UpstreamGrpcMethods();
  const rpc = { metrics: new RpcMetrics(metrics), faults: new GrpcFaults(DEFAULT_GRPC_ERROR_CODES), methods };
  const clients: Dispatcher[] = [];

  /** an upstream's dispatcher: undici's h2c client, its trailers made readable, the per-try metrics and spans composed on */
  const upstream = (name: string, origin: string) => {
    const client = new H2CClient(origin);
    clients.push(client);
    return client.compose(h2TrailersInterceptor(), clientMetricsInterceptor(metrics, rpc)(name), clientTracingInterceptor(collectingTracing(spans), methods)(name));
  };
  const callVia = async (dispatcher: Dispatcher, failCode = 0) => {
    const res = await dispatcher.request({
      origin: app.url.replace('h2c:', 'http:'),
      method: 'POST',
      path: `/${METHOD}`,
      headers: ['content-type', 'application/grpc', 'te', 'trailers'],
      body: frame(failCode),
    });
    await res.body.arrayBuffer();
    return res;
  };

  beforeAll(async () => {
    app = await startGrpcApp();
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await app?.close();
  });

  it('observes each try by method and status name; server faults are errors in the metrics, every status but OK in the span', async () => {
    const grpcapi = upstream('grpcapi', app.url.replace('h2c:', 'http:'));
    await callVia(grpcapi);
    await callVia(grpcapi, 14);
    await callVia(grpcapi, 5);
    const text = await metrics.render('text');
    const series = `rpc_client_call_duration_seconds_count{upstream="grpcapi",rpc_system_name="grpc",rpc_method="${METHOD}"`;
    expect(text).toContain(`${series},rpc_status_code="OK",error_type=""} 1`);
    expect(text).toContain(`${series},rpc_status_code="UNAVAILABLE",error_type="UNAVAILABLE"} 1`);
    expect(text).toContain(`${series},rpc_status_code="NOT_FOUND",error_type=""} 1`);
    expect(text).toContain('http_client_request_duration_seconds_count{upstream="grpcapi",http_request_method="POST",http_response_status_code="200",http_route="",error_type="UNAVAILABLE"} 1');

    const byStatus = Object.fromEntries(spans.map((s) => [attributes(s)['rpc.status_code'], s]));
    for (const s of spans) expect(s.name).toBe(METHOD);
    expect(attributes(byStatus.UNAVAILABLE)).toMatchObject({ 'rpc.system.name': 'grpc', 'rpc.method': METHOD, 'error.type': 'UNAVAILABLE', upstream: 'grpcapi' });
    expect(byStatus.UNAVAILABLE.error).toBe(true);
    expect(byStatus.NOT_FOUND.error).toBe(true);
    expect(attributes(byStatus.NOT_FOUND)['error.type']).toBe('NOT_FOUND');
    expect(byStatus.OK.error).toBe(false);
  });

  it('types a try that got no answer by what failed, with no status', async () => {
    spans.length = 0;
    const closed = await startGrpcApp();
    const origin = closed.url.replace('h2c:', 'http:');
    await closed.close();
    const refused = upstream('gone', origin);
    await expect(refused.request({ origin, method: 'POST', path: `/${METHOD}`, headers: ['content-type', 'application/grpc'], body: frame(0) })).rejects.toThrow();
    const text = await metrics.render('text');
    expect(text).toContain(`rpc_client_call_duration_seconds_count{upstream="gone",rpc_system_name="grpc",rpc_method="${METHOD}",rpc_status_code="",error_type="connection_refused"} 1`);
    expect(spans).toHaveLength(1);
    expect(spans[0]).toMatchObject({ name: METHOD, error: true });
    expect(attributes(spans[0])).toMatchObject({ 'error.type': 'connection_refused' });
    expect(attributes(spans[0])).not.toHaveProperty('rpc.status_code');
  });
});
