// The per-try limit (egress.upstreams.*.timeout) enforced on time: connect and response head,
// counted from the end of the request body (while the app's body still streams, each gap
// between its chunks), then each gap between response body chunks. undici's headersTimeout/bodyTimeout/connect timeout
// tick every ~500 ms for delays of a second or more (lib/util/timers.js), so a 1 s timeout
// fired at up to 1.5 s; these deadlines sit on the same 25 ms sweep as whole requests.
// Innermost but for the pool, so the breaker counts a timed-out try as a failure.
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { DeadlineList, type Timed } from '../../proxy/deadline-list.js';
import { TryTimeoutError } from '../../errors.js';
import type { ForwardedRequest, ProxyDispatchOptions, ResponseHeaders } from '../../proxy/layer.js';

type Controller = Dispatcher.DispatchController;
type Handler = Dispatcher.DispatchHandler;

/**
 * One try on the deadline list. It is also the controller the handlers above see, so a try that
 * expires while still queued or connecting (no undici controller yet) can be failed at once.
 */
class TimedTry implements Handler, Controller, Timed<TimedTry> {
  deadline: number;
  prev: TimedTry | undefined = undefined;
  next: TimedTry | undefined = undefined;
  aborted = false;
  paused = false;
  reason: Error | null = null;
  private controller: Controller | undefined = undefined;
  /** the handler above has been told how the try ended */
  private over = false;
  private headSeen = false;
  private readonly startedAt = performance.now();

  constructor(
    private readonly handler: Handler,
    private readonly list: DeadlineList<TimedTry>,
    private readonly timeoutMs: number,
    private readonly request: ForwardedRequest | undefined,
  ) {
    this.deadline = this.startedAt + timeoutMs;
    list.add(this);
  }

  expire(): void {
    const request = this.request;
    if (!this.headSeen && request !== undefined) {
      // Until the app's request body is all in, only its silences count; then the head's wait starts.
      const from = request.headWaitFrom();
      const at = (from > this.startedAt ? from : this.startedAt) + this.timeoutMs;
      if (at > performance.now()) {
        this.deadline = at;
        return;
      }
    }
    this.list.remove(this);
    const err = new TryTimeoutError(this.controller === undefined);
    if (this.controller) return this.controller.abort(err);
    // Queued in the pool or connecting: answer now, abort when undici hands the request over.
    this.reason = err;
    this.handler.onRequestStart?.(this, {});
    this.end();
    this.handler.onResponseError?.(this, err);
  }

  // Controller, as the handlers above see it.
  abort(reason: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }

  pause(): void {
    // The app reading slowly is no fault of the upstream's: no deadline while paused.
    this.paused = true;
    this.deadline = Infinity;
    this.controller?.pause();
  }

  resume(): void {
    this.paused = false;
    this.deadline = performance.now() + this.timeoutMs;
    this.controller?.resume();
  }

  // Handler, as undici sees it.
  onRequestStart(controller: Controller, context: unknown): void {
    this.controller = controller;
    if (this.over || this.aborted) return controller.abort(this.reason as Error);
    if (this.paused) controller.pause();
    this.handler.onRequestStart?.(this, context);
  }

  onRequestUpgrade(_controller: Controller, statusCode: number, headers: ResponseHeaders, socket: Duplex): void {
    if (this.end()) this.handler.onRequestUpgrade?.(this, statusCode, headers as never, socket);
  }

  onResponseStart(_controller: Controller, statusCode: number, headers: ResponseHeaders, statusMessage?: string): void {
    if (this.over) return;
    this.headSeen = statusCode >= 200;
    this.deadline = performance.now() + this.timeoutMs;
    this.handler.onResponseStart?.(this, statusCode, headers as never, statusMessage);
  }

  onResponseData(_controller: Controller, chunk: Buffer): void {
    if (this.over) return;
    this.deadline = performance.now() + this.timeoutMs;
    this.handler.onResponseData?.(this, chunk);
  }

  onResponseEnd(_controller: Controller, trailers: ResponseHeaders): void {
    if (this.end()) this.handler.onResponseEnd?.(this, trailers as never);
  }

  onResponseError(_controller: Controller, err: Error): void {
    if (this.end()) this.handler.onResponseError?.(this, err);
  }

  /** true the first time: the try is over and off the list */
  private end(): boolean {
    if (this.over) return false;
    this.over = true;
    this.list.remove(this);
    return true;
  }
}

export function tryTimeoutInterceptor(timeoutMs: number): Dispatcher.DispatcherComposeInterceptor {
  const list = new DeadlineList<TimedTry>((t) => t.expire());
  return (dispatch) => (opts, handler) => {
    const timed = new TimedTry(handler, list, timeoutMs, (opts as ProxyDispatchOptions).context?.request);
    try {
      return dispatch(opts, timed);
    } catch (err) {
      list.remove(timed);
      throw err;
    }
  };
}
