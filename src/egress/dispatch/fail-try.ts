// Failing a try without touching the network (circuit open, bulkhead full): the handler chain
// above sees an ordinary start + error, so metrics and spans record the try with its error type.
import type { Dispatcher } from 'undici';
import { LocalFailure, type Failure } from '../../errors.js';

/** A controller for a try that never reached a socket: nothing to pause or abort. */
class LocalController implements Dispatcher.DispatchController {
  aborted = false;
  paused = false;
  reason: Error | null = null;
  abort(reason: Error): void {
    this.aborted = true;
    this.reason = reason;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
}

export function failTry(handler: Dispatcher.DispatchHandler, failure: Failure): void {
  const controller = new LocalController();
  handler.onRequestStart?.(controller, {});
  handler.onResponseError?.(controller, new LocalFailure(failure));
}
