// Ingress traces in flight, by X-Request-ID: an app with no tracing code that forwards only the
// request id on its outbound calls still gets one connected trace (the egress span is parented
// under the ingress span). Bounded; an entry lives exactly as long as its ingress exchange.

export class InflightSpans<T> {
  private readonly byRequestId = new Map<string, T>();

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
    if (this.byRequestId.get(requestId) === entry) this.byRequestId.delete(requestId);
  }

  get(requestId: string): T | undefined {
    return this.byRequestId.get(requestId);
  }
}
