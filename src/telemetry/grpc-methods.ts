// The route of a gRPC call: its path "/package.Service/Method", bounded like HTTP routes. The
// ingress listener and each egress upstream keep the first MAX_GRPC_METHODS distinct methods they
// see; later ones share OTHER_GRPC_METHOD (the metrics count those calls), so a client inventing
// method names cannot grow the label sets. rpc.method is the route without its leading "/".

/** distinct methods per listener or upstream before new ones fold into OTHER_GRPC_METHOD */
export const MAX_GRPC_METHODS = 256;
/** OpenTelemetry's rpc.method for a method the instrumentation does not recognise */
export const OTHER_GRPC_METHOD = '_OTHER';
/** longer paths are not taken as method names */
const MAX_METHOD_PATH = 256;
const SLASH = 47;

/** "/package.Service/Method": one leading "/", one more between a non-empty service and method */
export function isGrpcMethodPath(path: string): boolean {
  if (path.length < 4 || path.length > MAX_METHOD_PATH || path.charCodeAt(0) !== SLASH) return false;
  const mid = path.indexOf('/', 1);
  return mid > 1 && mid < path.length - 1 && path.indexOf('/', mid + 1) === -1;
}

/** rpc.method of a route: "package.Service/Method", or OTHER_GRPC_METHOD for anything else */
export function rpcMethodOf(route: string): string {
  return isGrpcMethodPath(route) ? route.slice(1) : OTHER_GRPC_METHOD;
}

export class GrpcMethods {
  private readonly seen = new Set<string>();

  constructor(private readonly max = MAX_GRPC_METHODS) {}

  /** the call's route: its path when that is a method name, "" when it is not, OTHER_GRPC_METHOD past the cap */
  route(path: string): string {
    if (this.seen.has(path)) return path;
    if (!isGrpcMethodPath(path)) return '';
    if (this.seen.size >= this.max) return OTHER_GRPC_METHOD;
    this.seen.add(path);
    return path;
  }
}

/**
 * One GrpcMethods per egress upstream, shared by the upstream's per-try metrics and spans: spans
 * see only sampled tries, so a table of their own would fill in another order.
 */
export class UpstreamGrpcMethods {
  private readonly byUpstream = new Map<string, GrpcMethods>();

  of(upstream: string): GrpcMethods {
    let methods = this.byUpstream.get(upstream);
    if (methods === undefined) this.byUpstream.set(upstream, (methods = new GrpcMethods()));
    return methods;
  }
}
