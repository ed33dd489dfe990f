// The http_route label of ingress: the configured template a path matches ("/api/items/:id"),
// or "" when none does (src/proxy/route-matcher.ts). A gRPC call that no template matches has
// its method "/package.Service/Method" as its route, bounded per listener
// (src/telemetry/grpc-methods.ts). A route given as { path, rateLimit } has its own limit too
// (src/layers/rate-limit.ts).
import type { RouteConfig } from '../config/schema.js';
import type { Layer } from '../proxy/layer.js';
import { compileRoutes } from '../proxy/route-matcher.js';
import { GrpcMethods } from '../telemetry/grpc-methods.js';

/** the template of a route entry */
export function routePath(route: RouteConfig): string {
  return typeof route === 'string' ? route : route.path;
}

export function routeLayer(routes: readonly RouteConfig[]): Layer {
  const matcher = compileRoutes(routes.map(routePath));
  const grpcMethods = new GrpcMethods();
  return {
    name: 'route',
    onRequest(ex) {
      const route = matcher.match(ex.path);
      ex.route = route === '' && ex.grpc ? grpcMethods.route(ex.path) : route;
      return undefined;
    },
  };
}
