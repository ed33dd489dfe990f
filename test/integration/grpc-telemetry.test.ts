// gRPC calls as sidelight's telemetry shows them: the built CLI in front of a real grpc-js app,
// called by a real grpc-js client. /metrics has the RPC series with status names, a collector
// gets RPC spans, and the access log, the tap, `sidelight tap`, /stats and `sidelight stat` carry
// the status; sidelight's own gRPC errors are counted by the status the client got.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echoClient, failureOf, grpc, sayVia, startGrpcApp, type EchoClient, type GrpcApp } from '../helpers/grpc-app.js';
import { send, until } from '../helpers/http.js';
import { startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';
import { startCli } from '../helpers/live-cli.js';
import { runCli, startSidelight, type RunningSidelight } from '../helpers/sidelight.js';
import { openTap } from '../helpers/tap.js';

const METHOD = 'sidelight.test.v1.Echo/Say';
const RPC = `rpc_server_call_duration_seconds_count{rpc_system_name="grpc",rpc_method="${METHOD}"`;
const hostPort = (url: string) => url.replace(/^http:\/\//, '');

let receiver: OtlpReceiver;
let app: GrpcApp;
let sl: RunningSidelight;
let client: EchoClient;

/** one unary call with its own request id; resolves with the status code the client saw */
async function call(requestId: string, failCode?: number, via = client): Promise<number> {
  const metadata = new grpc.Metadata();
  metadata.set('x-request-id', requestId);
  if (failCode === undefined) return (await sayVia(via, { message: 'hi' }, metadata), grpc.status.OK);
  return (await failureOf(sayVia(via, { failCode }, metadata))).code;
}

beforeAll(async () => {
  [receiver, app] = await Promise.all([startOtlpReceiver(), startGrpcApp()]);
  sl = await startSidelight({
    config: { service: 'echo', ingress: { app: app.url }, tracing: { exporter: 'otlp', sampleRatio: 1 } },
    env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '50' },
  });
  client = echoClient(hostPort(sl.ingress));
  expect(await call('tel-ok')).toBe(grpc.status.OK);
  expect(await call('tel-unavailable', grpc.status.UNAVAILABLE)).toBe(grpc.status.UNAVAILABLE);
  expect(await call('tel-not-found', grpc.status.NOT_FOUND)).toBe(grpc.status.NOT_FOUND);
});

afterAll(async () => {
  client?.close();
  await sl?.stop();
  await Promise.all([app?.close(), receiver?.close()]);
});

describe('gRPC calls on /metrics', () => {
  it('counts each call by method and status name; only server faults have an error type', async () => {
    const text = (await send(`${sl.admin}/metrics`)).body;
    expect(text).toContain(`${RPC},rpc_status_code="OK",error_type=""} 1`);
    expect(text).toContain(`${RPC},rpc_status_code="UNAVAILABLE",error_type="UNAVAILABLE"} 1`);
    expect(text).toContain(`${RPC},rpc_status_code="NOT_FOUND",error_type=""} 1`);
    // The HTTP/2 requests keep their HTTP series: route = the method's path, the fault as error type.
    const http = `http_server_request_duration_seconds_count{http_request_method="POST",http_response_status_code="200",http_route="/${METHOD}"`;
    expect(text).toContain(`${http},error_type=""} 2`);
    expect(text).toContain(`${http},error_type="UNAVAILABLE"} 1`);
    expect(text).toContain('sidelight_grpc_method_overflow_total{upstream="app"} 0');
  });
});

describe('gRPC server spans', () => {
  it('are named after the method, carry the rpc attributes, and are errors for server faults only', async () => {
    const spans = await receiver.waitFor((all) => all.filter((s) => s.name === METHOD).length >= 3, 10_000, 'three gRPC server spans');
    const byId = (id: string) => spans.find((s) => s.name === METHOD && s.attributes['sidelight.request_id'] === id)!;
    const rpc = { 'rpc.system.name': 'grpc', 'rpc.method': METHOD, 'http.route': `/${METHOD}` };
    expect(byId('tel-unavailable')).toMatchObject({ kind: 'SERVER', statusCode: 2, attributes: { ...rpc, 'rpc.status_code': 'UNAVAILABLE', 'error.type': 'UNAVAILABLE' } });
    const notFound = byId('tel-not-found');
    expect(notFound).toMatchObject({ kind: 'SERVER', attributes: { ...rpc, 'rpc.status_code': 'NOT_FOUND' } });
    expect(notFound.statusCode).not.toBe(2);
    expect(notFound.attributes['error.type']).toBeUndefined();
    expect(byId('tel-ok').attributes['rpc.status_code']).toBe('OK');
  });
});

describe('the access log, the tap and `sidelight tap`', () => {
  it('log the gRPC status name of each call', async () => {
    const line = await sl.waitForLog((l) => l.msg === 'request' && l.requestId === 'tel-unavailable');
    expect(line).toMatchObject({ status: 200, grpcStatus: 'UNAVAILABLE', route: `/${METHOD}`, path: `/${METHOD}` });
    expect((await sl.waitForLog((l) => l.msg === 'request' && l.requestId === 'tel-ok')).grpcStatus).toBe('OK');
    // An HTTP request's line has no grpcStatus.
    await send(`${sl.ingress}/plain`, { headers: { 'x-request-id': 'tel-http' } });
    expect(await sl.waitForLog((l) => l.msg === 'request' && l.requestId === 'tel-http')).not.toHaveProperty('grpcStatus');
  });

  it('the tap keeps a server fault as a failure, with its status, and `sidelight tap` prints it', async () => {
    // The UNAVAILABLE call happened before any tap client: it was kept as a recent failure, NOT_FOUND was not.
    const recent = await openTap(sl.admin, '?failed=true&recent=true');
    const kept = await recent.waitFor((l) => l.requestId === 'tel-unavailable');
    expect(kept).toMatchObject({ kind: 'exchange', status: 200, grpcStatus: 'UNAVAILABLE', grpcFault: true, route: `/${METHOD}` });
    expect(recent.lines.some((l) => l.requestId === 'tel-not-found')).toBe(false);
    recent.close();

    const tap = startCli(['tap', '--admin', sl.admin]);
    try {
      await until(() => tap.stderr().includes('tapping'), 10_000, 'the tap command to connect');
      await call('tel-tap-internal', grpc.status.INTERNAL);
      await call('tel-tap-ok');
      await tap.waitForStdout(/id=tel-tap-ok/);
      expect(tap.stdout()).toMatch(new RegExp(` ingress +POST +200 +[\\d.]+m?s +app +/${METHOD.replace('.', '\\.')} {2}grpc=INTERNAL {2}id=tel-tap-internal`));
      expect(tap.stdout()).toMatch(/grpc=OK {2}id=tel-tap-ok/);
    } finally {
      await tap.stop();
    }
  });
});

describe('/stats and `sidelight stat`', () => {
  it('have a row per gRPC method with its most frequent statuses', async () => {
    type Row = { method: string; statuses: Array<{ status: string; calls: number }>; '1m': { requests: number; successRatio: number } };
    const row = await until(async () => {
      const doc = JSON.parse((await send(`${sl.admin}/stats`)).body) as { grpcMethods: Row[] };
      return doc.grpcMethods.find((r) => r.method === METHOD && r['1m'].requests >= 3);
    }, 10_000, 'the gRPC method row');
    expect(row.statuses.map((s) => s.status)).toEqual(expect.arrayContaining(['OK', 'UNAVAILABLE']));
    expect(row.statuses.length).toBeLessThanOrEqual(3);
    expect(row['1m'].successRatio).toBeLessThan(1);
    const { stdout } = await runCli(['stat', '--admin', sl.admin]);
    expect(stdout).toContain('GRPC METHOD (ingress)');
    expect(stdout).toMatch(new RegExp(`${METHOD.replace('.', '\\.')} .*OK \\d+`));
  });
});

describe("sidelight's own gRPC errors", () => {
  it('count by the status the client got, with the cause in the access log', async () => {
    const dead = await startSidelight({ config: { ingress: { app: 'h2c://127.0.0.1:1' } } });
    const deadClient = echoClient(hostPort(dead.ingress));
    try {
      expect(await call('tel-dead', undefined, deadClient).catch((e: grpc.ServiceError) => e.code)).toBe(grpc.status.UNAVAILABLE);
      const text = (await send(`${dead.admin}/metrics`)).body;
      expect(text).toContain(`${RPC},rpc_status_code="UNAVAILABLE",error_type="UNAVAILABLE"} 1`);
      const line = await dead.waitForLog((l) => l.msg === 'request' && l.requestId === 'tel-dead');
      expect(line).toMatchObject({ grpcStatus: 'UNAVAILABLE', error: 'upstream_unreachable' });
    } finally {
      deadClient.close();
      await dead.stop();
    }
  });
});
