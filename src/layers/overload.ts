// A hard cap on in-flight requests per listener: past it, a fast 503 `overloaded` instead of
// an unbounded queue in memory.
import type { Inflight } from '../proxy/inflight.js';
import { rejection } from '../errors.js';
import type { Layer } from '../proxy/layer.js';

export function overloadLayer(inflight: Inflight, maxInflight: number): Layer {
  return {
    name: 'overload',
    onRequest() {
      if (inflight.count < maxInflight) return undefined;
      return rejection('overloaded', `more than ${maxInflight} requests in flight`, { headers: ['retry-after', '1'] });
    },
  };
}
