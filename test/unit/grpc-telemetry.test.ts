// gRPC-aware telemetry's label logic: which paths are methods, the per-listener method cap, the
// server-fault set, and what a finished gRPC call adds to /metrics beside its HTTP series.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { GrpcFaults } from '../../src/net/grpc-faults.js';
import { DEFAULT_GRPC_ERROR_CODES } from '../../src/net/grpc-status.js';
import { Exchange } from '../../src/proxy/exchange.js';
import { routeLayer } from '../../src/layers/route.js';
import { rpcErrorType, serverErrorType, serverMetricsLayer } from '../../src/layers/server-metrics.js';
import { GrpcMethods, isGrpcMethodPath, MAX_GRPC_METHODS, rpcMethodOf } from '../../src/telemetry/grpc-methods.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { RpcMetrics, rpcStatusLabel } from '../../src/telemetry/rpc-metrics.js';

const defaults = new GrpcFaults(DEFAULT_GRPC_ERROR_CODES);

/** a finished exchange as the core leaves it for the layers' onDone */
function exchange(path: string, { grpc = true, status = 200, grpcStatus = -1, errorType }: { grpc?: boolean; status?: number; grpcStatus?: number; errorType?: string } = {}): Exchange {
  const req = {
    method: 'POST',
    url: path,
    headers: grpc ? { 'content-type': 'application/grpc' } : { 'content-type': 'application/json' },
    httpVersionMajor: grpc ? 2 : 1,
    socket: { remoteAddress: '127.0.0.1' },
  } as unknown as IncomingMessage;
  const ex = new Exchange(req, {} as ServerResponse, 'ingress');
  ex.status = status;
  ex.grpcStatus = grpcStatus;
  ex.errorType = errorType;
  ex.durationMs = 3;
  return ex;
}

describe('gRPC method names', () => {
  it('takes "/package.Service/Method" and nothing else', () => {
    for (const p of ['/echo.Echo/Say', '/Echo/Say', '/grpc.health.v1.Health/Check']) expect(isGrpcMethodPath(p), p).toBe(true);
    for (const p of ['/', '/Say', '/echo.Echo/', '//Say', '/a/b/c', 'echo.Echo/Say', `/${'x'.repeat(300)}/Say`]) expect(isGrpcMethodPath(p), p).toBe(false);
    expect(rpcMethodOf('/echo.Echo/Say')).toBe('echo.Echo/Say');
    expect(rpcMethodOf('')).toBe('_OTHER');
    expect(rpcMethodOf('/api/items/:id/x')).toBe('_OTHER');
  });

  it('keeps the first methods of a listener and folds later ones into _OTHER', () => {
    const methods = new GrpcMethods(2);
    expect(methods.route('/a.S/One')).toBe('/a.S/One');
    expect(methods.route('/a.S/Two')).toBe('/a.S/Two');
    expect(methods.route('/a.S/Three')).toBe('_OTHER');
    expect(methods.route('/a.S/One')).toBe('/a.S/One');
    expect(methods.route('/not-a-method')).toBe('');
  });
});

describe('the server-fault set (grpc.errorCodes)', () => {
  it('holds the configured statuses; a code past the table counts as UNKNOWN; no status is no fault', () => {
    expect([...Array(17).keys()].filter((c) => defaults.isFault(c))).toEqual([2, 4, 12, 13, 14, 15]);
    expect(defaults.isFault(99)).toBe(true);
    expect(defaults.isFault(-1)).toBe(false);
    const strict = new GrpcFaults(['UNAVAILABLE']);
    expect(strict.isFault(14)).toBe(true);
    expect(strict.isFault(99)).toBe(false);
  });

  it('types a faulty call by its status name; sidelight’s own failure keeps its class on the HTTP series', () => {
    expect(rpcStatusLabel(14)).toBe('UNAVAILABLE');
    expect(rpcStatusLabel(42)).toBe('42');
    expect(rpcStatusLabel(-1)).toBe('');
    expect(serverErrorType(exchange('/e.E/S', { grpcStatus: 14 }), defaults)).toBe('UNAVAILABLE');
    expect(serverErrorType(exchange('/e.E/S', { grpcStatus: 5 }), defaults)).toBeUndefined();
    const refused = exchange('/e.E/S', { grpcStatus: 14, errorType: 'connection_refused' });
    expect(serverErrorType(refused, defaults)).toBe('connection_refused');
    expect(rpcErrorType(refused, defaults)).toBe('UNAVAILABLE');
    expect(rpcErrorType(exchange('/e.E/S', { status: 0, errorType: 'client_aborted' }), defaults)).toBe('client_aborted');
    // An HTTP exchange is judged by its status alone.
    expect(serverErrorType(exchange('/e.E/S', { grpc: false, grpcStatus: 14 }), defaults)).toBeUndefined();
  });
});

describe('gRPC series on /metrics', () => {
  function ingress(faults = defaults) {
    const metrics = new Metrics({ maxSeries: 2000 });
    const rpc = new RpcMetrics(metrics);
    const layers = [routeLayer([]), serverMetricsLayer(metrics, rpc, faults)];
    const finish = (ex: Exchange) => {
      for (const l of layers) l.onRequest?.(ex);
      for (const l of layers) l.onDone?.(ex);
    };
    const lines = async () => (await metrics.render('text')).split('\n');
    return { finish, lines };
  }

  it('observes each gRPC call once in the RPC histogram, with the status name, and keeps its HTTP series', async () => {
    const { finish, lines } = ingress();
    finish(exchange('/echo.Echo/Say', { grpcStatus: 0 }));
    finish(exchange('/echo.Echo/Say', { grpcStatus: 14 }));
    finish(exchange('/echo.Echo/Say', { grpcStatus: 5 }));
    const text = await lines();
    expect(text).toContain('rpc_server_call_duration_seconds_count{rpc_system_name="grpc",rpc_method="echo.Echo/Say",rpc_status_code="OK",error_type=""} 1');
    expect(text).toContain('rpc_server_call_duration_seconds_count{rpc_system_name="grpc",rpc_method="echo.Echo/Say",rpc_status_code="UNAVAILABLE",error_type="UNAVAILABLE"} 1');
    expect(text).toContain('rpc_server_call_duration_seconds_count{rpc_system_name="grpc",rpc_method="echo.Echo/Say",rpc_status_code="NOT_FOUND",error_type=""} 1');
    expect(text).toContain('http_server_request_duration_seconds_count{http_request_method="POST",http_response_status_code="200",http_route="/echo.Echo/Say",error_type=""} 2');
    expect(text).toContain('http_server_request_duration_seconds_count{http_request_method="POST",http_response_status_code="200",http_route="/echo.Echo/Say",error_type="UNAVAILABLE"} 1');
  });

  it('counts the statuses grpc.errorCodes names, and only those', async () => {
    const { finish, lines } = ingress(new GrpcFaults(['NOT_FOUND']));
    finish(exchange('/echo.Echo/Say', { grpcStatus: 5 }));
    finish(exchange('/echo.Echo/Say', { grpcStatus: 14 }));
    const text = await lines();
    expect(text).toContain('rpc_server_call_duration_seconds_count{rpc_system_name="grpc",rpc_method="echo.Echo/Say",rpc_status_code="NOT_FOUND",error_type="NOT_FOUND"} 1');
    expect(text).toContain('rpc_server_call_duration_seconds_count{rpc_system_name="grpc",rpc_method="echo.Echo/Say",rpc_status_code="UNAVAILABLE",error_type=""} 1');
  });

  it('adds no RPC series for HTTP/1.1 requests, even to a method-shaped path', async () => {
    const { finish, lines } = ingress();
    finish(exchange('/echo.Echo/Say', { grpc: false }));
    const text = await lines();
    expect(text.filter((l) => l.startsWith('rpc_server_call_duration_seconds_count'))).toEqual([]);
    expect(text).toContain('http_server_request_duration_seconds_count{http_request_method="POST",http_response_status_code="200",http_route="",error_type=""} 1');
  });

  it(`bounds the methods at ${MAX_GRPC_METHODS} per listener: later ones are _OTHER, and counted`, async () => {
    const { finish, lines } = ingress();
    for (let i = 0; i <= MAX_GRPC_METHODS + 1; i++) finish(exchange(`/scan.Scan/M${i}`, { grpcStatus: 12 }));
    const text = await lines();
    const methods = text.filter((l) => l.startsWith('rpc_server_call_duration_seconds_count'));
    expect(methods).toHaveLength(MAX_GRPC_METHODS + 1);
    expect(text).toContain('rpc_server_call_duration_seconds_count{rpc_system_name="grpc",rpc_method="_OTHER",rpc_status_code="UNIMPLEMENTED",error_type="UNIMPLEMENTED"} 2');
    expect(text).toContain('http_server_request_duration_seconds_count{http_request_method="POST",http_response_status_code="200",http_route="_OTHER",error_type="UNIMPLEMENTED"} 2');
    expect(text).toContain('sidelight_grpc_method_overflow_total{upstream="app"} 2');
  });
});
