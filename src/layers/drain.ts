// During a drain: new requests are refused with 503 `draining` and every answer closes its
// connection, so clients move to another instance while in-flight work finishes.
import type { DrainState } from '../lifecycle/drain.js';
import { rejection } from '../errors.js';
import type { Layer } from '../proxy/layer.js';

export function drainLayer(drain: DrainState): Layer {
  return {
    name: 'drain',
    onRequest() {
      if (!drain.refusing) return undefined;
      return rejection('draining', 'this instance is shutting down; retry on another one', {
        close: true,
        headers: ['retry-after', '1'],
      });
    },
    onResponse(ex, headers) {
      // HTTP/2 connections are closed by GOAWAY once refusing starts (src/proxy/front-door.ts).
      if (drain.draining && !ex.h2) headers.connection = 'close';
    },
  };
}
