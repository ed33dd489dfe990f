// Bulkhead: at most maxInflight tries per upstream at once. undici's Pool queues without limit,
// so a slow API would otherwise pile requests (and their memory) up in sidelight; past the limit
// the app gets a fast 503 overloaded. Composed outside the breaker so a refusal here is not
// counted against the upstream's health.
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { EgressObserver } from '../egress/observer.js';
import type { ResponseHeaders } from '../proxy/layer.js';
import { failTry } from './fail-try.js';

type Controller = Dispatcher.DispatchController;

export class Bulkhead {
  inflight = 0;
  constructor(
    readonly upstream: string,
    readonly maxInflight: number,
  ) {}
}

/** Releases the slot once, whichever way the try ends. */
class SlotHandler implements Dispatcher.DispatchHandler {
  private released = false;

  constructor(
    private readonly handler: Dispatcher.DispatchHandler,
    private readonly bulkhead: Bulkhead,
  ) {}

  private release(): void {
    if (this.released) return;
    this.released = true;
    this.bulkhead.inflight--;
  }

  onRequestStart(controller: Controller, context: unknown): void {
    this.handler.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(controller: Controller, statusCode: number, headers: ResponseHeaders, socket: Duplex): void {
    this.release();
    this.handler.onRequestUpgrade?.(controller, statusCode, headers as never, socket);
  }

  onResponseStart(controller: Controller, statusCode: number, headers: ResponseHeaders, statusMessage?: string): void {
    this.handler.onResponseStart?.(controller, statusCode, headers as never, statusMessage);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    this.handler.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Controller, trailers: ResponseHeaders): void {
    this.release();
    this.handler.onResponseEnd?.(controller, trailers as never);
  }

  onResponseError(controller: Controller, err: Error): void {
    this.release();
    this.handler.onResponseError?.(controller, err);
  }
}

export function bulkheadInterceptor(bulkhead: Bulkhead, observers: readonly EgressObserver[]): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) => {
    if (bulkhead.inflight >= bulkhead.maxInflight) {
      for (const o of observers) o.bulkheadRejected(bulkhead.upstream);
      failTry(handler, {
        status: 503,
        code: 'overloaded',
        errorType: 'overloaded',
        message: `more than ${bulkhead.maxInflight} requests in flight to ${bulkhead.upstream}`,
        headers: ['retry-after', '1'],
      });
      return true;
    }
    bulkhead.inflight++;
    const slot = new SlotHandler(handler, bulkhead);
    try {
      return dispatch(opts, slot);
    } catch (err) {
      bulkhead.inflight--;
      throw err;
    }
  };
}
