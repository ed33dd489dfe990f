// One CLIENT span per egress CONNECT tunnel, named "CONNECT <upstream>", recorded when the tunnel
// ends. Its parent is the one the egress tracing layer worked out for the CONNECT, as for a
// request (src/layers/egress-tracing.ts): the trace context it carried, else the ingress span in
// flight with the same X-Request-ID, else none and a new trace. The TLS inside is end to end, so there is no status code or URL to record:
// where it went, the bytes each way, how the open went and who closed it.
import type { Tunnel, TunnelObserver } from './tunnel.js';
import { newSpanId, newTraceId } from '../telemetry/spans/ids.js';
import { ATTR } from '../telemetry/spans/semconv.js';
import { epochMs, SpanKind, SpanRecord, type AttributeKey, type AttributeValue } from '../telemetry/spans/span-record.js';
import { spanFlags } from '../telemetry/trace-context.js';
import type { Tracing } from '../telemetry/tracing.js';

export function tunnelTracing(tracing: Tracing): TunnelObserver {
  return {
    // Ids at the start, so every line about the tunnel (access log, tap) can name its trace.
    tunnelStarted({ ex }: Tunnel): void {
      const parent = ex.parent;
      ex.traceId = parent ? parent.traceId : newTraceId();
      ex.spanId = newSpanId();
      ex.traceSampled = tracing.sample(ex.traceId, parent?.sampled);
      ex.traceFlags = spanFlags(ex.traceSampled, parent);
    },

    tunnelEnded(t: Tunnel): void {
      const ex = t.ex;
      if (!ex.traceSampled) return;
      const name = t.upstream.name;
      const attrs: Array<AttributeKey | AttributeValue> = [
        ATTR.method,
        'CONNECT',
        ATTR.serverAddress,
        t.upstream.address.host,
        ATTR.serverPort,
        t.upstream.address.port,
        ATTR.upstream,
        name,
        ATTR.tunnelTarget,
        t.target,
        ATTR.tunnelOutcome,
        t.outcome,
        ATTR.tunnelBytesSent,
        t.bytesSent,
        ATTR.tunnelBytesReceived,
        t.bytesReceived,
      ];
      if (t.closedBy) attrs.push(ATTR.tunnelClosedBy, t.closedBy);
      if (ex.requestId) attrs.push(ATTR.requestId, ex.requestId);
      const failed = t.outcome !== 'established';
      if (failed) attrs.push(ATTR.errorType, t.outcome);
      tracing.record(new SpanRecord(ex, ex.parent, SpanKind.Client, `CONNECT ${name}`, epochMs(ex.startedAt), epochMs(t.endedAt), failed, attrs));
    },
  };
}
