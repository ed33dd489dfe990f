// The attributes sidelight's spans carry, named per the OpenTelemetry HTTP semantic conventions,
// and for gRPC calls the RPC ones (semantic conventions 1.45: rpc.system.name, rpc.method,
// rpc.status_code), plus a few sidelight.* ones, each encoded once.
import { splitHostPort, unbracket } from '../../net/address.js';
import { grpcStatusName } from '../../net/grpc-status.js';
import { OTHER_GRPC_METHOD, rpcMethodOf } from '../grpc-methods.js';
import { AttributeKey } from './span-record.js';

export const ATTR = {
  method: new AttributeKey('http.request.method'),
  methodOriginal: new AttributeKey('http.request.method_original'),
  status: new AttributeKey('http.response.status_code'),
  route: new AttributeKey('http.route'),
  resendCount: new AttributeKey('http.request.resend_count'),
  urlPath: new AttributeKey('url.path'),
  urlScheme: new AttributeKey('url.scheme'),
  urlFull: new AttributeKey('url.full'),
  /** client spans: the upstream's route template the request matched */
  urlTemplate: new AttributeKey('url.template'),
  serverAddress: new AttributeKey('server.address'),
  serverPort: new AttributeKey('server.port'),
  clientAddress: new AttributeKey('client.address'),
  userAgent: new AttributeKey('user_agent.original'),
  errorType: new AttributeKey('error.type'),
  /** gRPC calls: always "grpc" */
  rpcSystemName: new AttributeKey('rpc.system.name'),
  /** "package.Service/Method", or "_OTHER" past the method cap (src/telemetry/grpc-methods.ts) */
  rpcMethod: new AttributeKey('rpc.method'),
  /** the method as called, when rpc.method is "_OTHER" */
  rpcMethodOriginal: new AttributeKey('rpc.method_original'),
  /** the status name: "OK", "UNAVAILABLE", … */
  rpcStatusCode: new AttributeKey('rpc.status_code'),
  requestId: new AttributeKey('sidelight.request_id'),
  /** server spans: the upstream the request went to ("app" on ingress) */
  upstreamName: new AttributeKey('sidelight.upstream'),
  errorCode: new AttributeKey('sidelight.error_code'),
  /** client spans: the configured upstream's name */
  upstream: new AttributeKey('upstream'),
  /** CONNECT tunnels: the host:port the app asked for */
  tunnelTarget: new AttributeKey('sidelight.tunnel.target'),
  /** "established", or why not ("connection_refused", "timeout", "circuit_open", …) */
  tunnelOutcome: new AttributeKey('sidelight.tunnel.outcome'),
  /** who ended an established tunnel: "client", "upstream", "idle_timeout", "shutdown" */
  tunnelClosedBy: new AttributeKey('sidelight.tunnel.closed_by'),
  /** bytes from the app to the upstream, and back */
  tunnelBytesSent: new AttributeKey('sidelight.tunnel.bytes_sent'),
  tunnelBytesReceived: new AttributeKey('sidelight.tunnel.bytes_received'),
} as const;

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

/** Span name and http.request.method per semconv: unknown methods are "_OTHER" and the name is "HTTP". */
export function spanMethod(method: string): string | undefined {
  return KNOWN_METHODS.has(method) ? method : undefined;
}

/** host[:port] or [v6]:port, as server.address (and server.port when there is one). */
export function pushServerAddress(attrs: Array<AttributeKey | string | number>, authority: string): void {
  const { host, port } = splitHostPort(authority);
  attrs.push(ATTR.serverAddress, unbracket(host));
  const n = Number(port);
  if (port !== '' && Number.isInteger(n) && n > 0) attrs.push(ATTR.serverPort, n);
}

/**
 * A gRPC call's attributes (rpc.status_code when it ended with a status); returns the span name,
 * "package.Service/Method", or "grpc" when the method is not known.
 */
export function pushRpcAttributes(attrs: Array<AttributeKey | string | number>, route: string, path: string, status: number): string {
  const method = rpcMethodOf(route);
  attrs.push(ATTR.rpcSystemName, 'grpc', ATTR.rpcMethod, method);
  if (method === OTHER_GRPC_METHOD) attrs.push(ATTR.rpcMethodOriginal, path.startsWith('/') ? path.slice(1) : path);
  if (status >= 0) attrs.push(ATTR.rpcStatusCode, grpcStatusName(status));
  return method === OTHER_GRPC_METHOD ? 'grpc' : method;
}
