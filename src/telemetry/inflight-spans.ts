// Ingress traces in flight, by X-Request-ID: an app with no tracing code that forwards only the
// request id on its outbound calls still gets one connected trace (the egress span is parented
// under the ingress span). Bounded; an entry lives exactly as long as its ingress exchange.

export class InflightSpans<T> {
  private readonly byRequestId = new Map<string, T | undefined>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.byRequestId.size;
  }

  /** Registers the entry; when full (more in flight than limits.maxInflight) it is simply not findable. */
  add(requestId: string, entry: T): void {
    if (this.byRequestId.size < this.max) this.byRequestId.set(requestId, entry);
  }

  /** Removes the entry if it is still this one (two clients may send the same id). */
  remove(requestId: string, entry: T): void {
    if (this.byRequestId.get(requestId) !== entry) return;
    // Cleared before the delete: V8's Map (Node 20) keeps a deleted entry's value reachable until
    // the table is rehashed, so every finished exchange survived young-generation collections and
    // was promoted into old space, costing GC time per request under load (--trace-gc and a CPU
    // profile show it), whether or not the span was sampled.
    this.byRequestId.set(requestId, undefined);
    this.byRequestId.delete(requestId);
  }

  get(requestId: string): T | undefined {
    return this.byRequestId.get(requestId);
  }
}
