// The attributes sidelight's spans carry, named per the OpenTelemetry HTTP semantic conventions
// (plus a few sidelight.* ones), each encoded once.
import { splitHostPort, unbracket } from '../../net/address.js';
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
