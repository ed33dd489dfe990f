// In-flight exchanges of one listener: a count for the drain and the overload limit, and
// whole-request deadlines checked by one coarse sweep instead of a timer per request.
import { DeadlineList } from './deadline-list.js';
import type { Exchange } from './exchange.js';
import { UpstreamTimeoutError } from './errors.js';

export class Inflight {
  private readonly list = new DeadlineList<Exchange>((ex) => {
    if (ex.timedOut) return;
    ex.timedOut = true;
    ex.upstreamCall?.abort(new UpstreamTimeoutError());
  });
  private idleWaiters: Array<() => void> = [];

  get count(): number {
    return this.list.count;
  }

  add(ex: Exchange, timeoutMs: number): void {
    ex.deadline = ex.startedAt + timeoutMs;
    this.list.add(ex);
  }

  remove(ex: Exchange): void {
    if (!this.list.remove(ex) || this.list.count !== 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves once nothing is in flight. */
  idle(): Promise<void> {
    if (this.list.count === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
