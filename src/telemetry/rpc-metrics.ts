// The gRPC calls' own families, per the OpenTelemetry RPC semantic conventions (rpc.server.call.duration
// and rpc.client.call.duration): beside the HTTP ones, never instead. A call's series is bound once
// per (method, status, error type) and cached, as the HTTP series are.
import { grpcStatusName } from '../net/grpc-status.js';
import { ERROR_TYPE_SLOTS, errorTypeIndex, errorTypeLabel } from './labels.js';
import type { HistogramFamily, HistogramSeries, ValueFamily, ValueSeries } from './metric-family.js';
import type { MetricRegistry } from './metric-registry.js';
import { DURATION_BUCKETS } from './metrics.js';
import { MAX_GRPC_METHODS, rpcMethodOf } from './grpc-methods.js';

export const RPC_SERVER_LABELS = ['rpc_system_name', 'rpc_method', 'rpc_status_code', 'error_type'] as const;
export const RPC_CLIENT_LABELS = ['upstream', 'rpc_system_name', 'rpc_method', 'rpc_status_code', 'error_type'] as const;

/** rpc_status_code: the status name ("UNAVAILABLE"), its number past the table, "" when the call ended without one */
export function rpcStatusLabel(code: number): string {
  return code < 0 ? '' : grpcStatusName(code);
}

/** The series of one listener's or one upstream's calls, keyed by route, then by status and error type. */
export class RpcCalls {
  private readonly byRoute = new Map<string, Map<number, HistogramSeries>>();

  constructor(
    private readonly family: HistogramFamily,
    /** the label values before rpc_system_name: [] on the server, [upstream] on the client */
    private readonly leading: readonly string[],
  ) {}

  /** `route`: the call's bounded route ("/package.Service/Method", "" or "_OTHER"); `status`: -1 for none */
  series(route: string, status: number, errorType: string | undefined): HistogramSeries {
    let cache = this.byRoute.get(route);
    if (cache === undefined) this.byRoute.set(route, (cache = new Map()));
    const e = errorTypeIndex(errorType);
    const key = (status + 1) * ERROR_TYPE_SLOTS + e;
    let series = cache.get(key);
    if (series === undefined) {
      series = this.family.child([...this.leading, 'grpc', rpcMethodOf(route), rpcStatusLabel(status), errorTypeLabel(e)]);
      if (!series.overflow) cache.set(key, series);
    }
    return series;
  }
}

export class RpcMetrics {
  readonly serverDuration: HistogramFamily;
  readonly clientDuration: HistogramFamily;
  private readonly methodOverflow: ValueFamily;

  constructor(registry: MetricRegistry) {
    this.serverDuration = registry.histogram(
      'rpc_server_call_duration_seconds',
      'Duration of inbound gRPC calls through the ingress listener, seconds (OpenTelemetry rpc.server.call.duration).',
      RPC_SERVER_LABELS,
      DURATION_BUCKETS,
    );
    this.clientDuration = registry.histogram(
      'rpc_client_call_duration_seconds',
      'Duration of each outbound gRPC try to an upstream, seconds; one observation per try (OpenTelemetry rpc.client.call.duration).',
      RPC_CLIENT_LABELS,
      DURATION_BUCKETS,
    );
    this.methodOverflow = registry.counter(
      'sidelight_grpc_method_overflow_total',
      `gRPC calls whose method was recorded as _OTHER: the ingress ("app") or the upstream had already seen ${MAX_GRPC_METHODS} distinct methods.`,
      ['upstream'],
    );
  }

  serverCalls(): RpcCalls {
    return new RpcCalls(this.serverDuration, []);
  }

  clientCalls(upstream: string): RpcCalls {
    return new RpcCalls(this.clientDuration, [upstream]);
  }

  /** the overflow count of one listener ("app") or upstream, at 0 from the start */
  methodOverflowFor(upstream: string): ValueSeries {
    return this.methodOverflow.child([upstream]);
  }
}
