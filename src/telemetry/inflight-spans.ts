// Ingress spans in flight, by X-Request-ID: an app with no tracing code that forwards only the
// request id on its outbound calls still gets one connected trace (the egress span is parented
// under the ingress span). Bounded; an entry lives exactly as long as its ingress exchange.
import type { Span } from '@opentelemetry/api';

export class InflightSpans {
  private readonly byRequestId = new Map<string, Span>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.byRequestId.size;
  }

  /** Registers the span; when full (more in flight than limits.maxInflight) it is simply not findable. */
  add(requestId: string, span: Span): void {
    if (this.byRequestId.size < this.max) this.byRequestId.set(requestId, span);
  }

  /** Removes the entry if it is still this span's (two clients may send the same id). */
  remove(requestId: string, span: Span): void {
    if (this.byRequestId.get(requestId) === span) this.byRequestId.delete(requestId);
  }

  get(requestId: string): Span | undefined {
    return this.byRequestId.get(requestId);
  }
}
