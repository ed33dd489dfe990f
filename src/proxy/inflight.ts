// In-flight exchanges of one listener: a count for the drain and the overload limit, and
// whole-request deadlines checked by one coarse timer instead of a timer per request.
import type { Exchange } from './exchange.js';
import { UpstreamTimeoutError } from './errors.js';

/** Deadlines fire at most this late; timeouts are seconds-scale, so 25 ms is plenty. */
const TICK_MS = 25;

export class Inflight {
  count = 0;
  private head: Exchange | undefined;
  private tail: Exchange | undefined;
  private timer: NodeJS.Timeout | undefined;
  private idleWaiters: Array<() => void> = [];

  add(ex: Exchange, timeoutMs: number): void {
    ex.deadline = ex.startedAt + timeoutMs;
    ex.prev = this.tail;
    ex.next = undefined;
    if (this.tail) this.tail.next = ex;
    else this.head = ex;
    this.tail = ex;
    this.count++;
    if (!this.timer) {
      this.timer = setInterval(() => this.sweep(), TICK_MS);
      this.timer.unref();
    }
  }

  remove(ex: Exchange): void {
    if (ex.prev) ex.prev.next = ex.next;
    else if (this.head === ex) this.head = ex.next;
    else return; // not listed
    if (ex.next) ex.next.prev = ex.prev;
    else this.tail = ex.prev;
    ex.prev = ex.next = undefined;
    this.count--;
    if (this.count === 0) {
      if (this.timer) clearInterval(this.timer);
      this.timer = undefined;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves once nothing is in flight. */
  idle(): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private sweep(): void {
    const now = performance.now();
    for (let ex = this.head; ex; ) {
      const next = ex.next;
      if (!ex.timedOut && ex.deadline <= now) {
        ex.timedOut = true;
        ex.upstreamCall?.abort(new UpstreamTimeoutError());
      }
      ex = next;
    }
  }
}
