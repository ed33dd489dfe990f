// In-flight exchanges of one listener: a count for the drain and the overload limit, and
// whole-request deadlines checked by one coarse sweep instead of a timer per request.
import { DeadlineList } from './deadline-list.js';
import type { Exchange } from './exchange.js';
import { UpstreamTimeoutError } from '../errors.js';

export class Inflight {
  private readonly list = new DeadlineList<Exchange>((ex) => {
    if (ex.timedOut) return;
    ex.timedOut = true;
    ex.upstreamCall?.abort(new UpstreamTimeoutError());
  });
  /** exchanges with no deadline (CONNECT tunnels, which live as long as their sockets): counted, never swept */
  private untimed = 0;
  private idleWaiters: Array<() => void> = [];

  get count(): number {
    return this.list.count + this.untimed;
  }

  /** `timeoutMs` Infinity: no deadline; the exchange is counted until removed */
  add(ex: Exchange, timeoutMs: number): void {
    ex.deadline = ex.startedAt + timeoutMs;
    if (timeoutMs === Infinity) this.untimed++;
    else this.list.add(ex);
  }

  remove(ex: Exchange): void {
    if (ex.deadline === Infinity) {
      ex.deadline = 0;
      this.untimed--;
    } else if (!this.list.remove(ex)) return;
    if (this.count !== 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves once nothing is in flight. */
  idle(): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
