// The streaming core: one undici dispatch per exchange, bodies piped both ways with backpressure.
// It knows requests, responses and sockets; what happens around them belongs to layers.
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Exchange, Abortable } from './exchange.js';
import { ClientAbortedError, classify } from '../errors.js';
import { stripResponseHopByHop } from './headers.js';
import type { ResponseHeaders } from './layer.js';

type Controller = Dispatcher.DispatchController;

/** What the forward handler needs from the pipeline that owns the exchange. */
export interface ForwardOwner {
  /** the response head is about to be written */
  beforeResponse(ex: Exchange, headers: ResponseHeaders): void;
  /** the upstream failed before a response head was written: answer locally */
  failed(ex: Exchange, err: Error): void;
  /** an Upgrade was accepted (101): the two sockets are now joined */
  upgraded(ex: Exchange, upstream: Duplex, headers: ResponseHeaders, protocol: string): void;
}

export class ForwardHandler implements Dispatcher.DispatchHandler, Abortable {
  private controller: Controller | undefined = undefined;
  private abortReason: Error | undefined = undefined;
  private waitingForDrain = false;
  private finished = false;

  constructor(
    private readonly ex: Exchange,
    private readonly owner: ForwardOwner,
  ) {}

  abort(reason: Error): void {
    if (this.finished) return;
    if (this.controller) {
      this.controller.abort(reason);
    } else {
      // Still queued in the pool: undici has not handed us a controller yet.
      this.abortReason = reason;
      this.onResponseError(undefined, reason);
    }
  }

  onRequestStart(controller: Controller): void {
    this.controller = controller;
    if (this.abortReason) controller.abort(this.abortReason);
  }

  onRequestUpgrade(_controller: Controller, statusCode: number, headers: ResponseHeaders, socket: Duplex): void {
    const ex = this.ex;
    ex.status = statusCode;
    this.finished = true;
    const protocol = String(headers.upgrade ?? ex.req.headers.upgrade ?? '');
    stripResponseHopByHop(headers);
    this.owner.beforeResponse(ex, headers);
    this.owner.upgraded(ex, socket, headers, protocol);
  }

  onResponseStart(controller: Controller, statusCode: number, headers: ResponseHeaders, statusMessage?: string): void {
    if (this.finished) return;
    const ex = this.ex;
    const res = ex.res;
    if (res.destroyed) {
      controller.abort(new ClientAbortedError());
      return;
    }
    ex.status = statusCode;
    stripResponseHopByHop(headers);
    this.owner.beforeResponse(ex, headers);
    res.writeHead(statusCode, statusMessage || undefined, headers as Record<string, string | string[]>);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (this.finished) return;
    const ex = this.ex;
    ex.bytesOut += chunk.length;
    if (!ex.res.write(chunk) && !this.waitingForDrain) {
      this.waitingForDrain = true;
      controller.pause();
      ex.res.once('drain', () => {
        this.waitingForDrain = false;
        controller.resume();
      });
    }
  }

  onResponseEnd(_controller: Controller, trailers: ResponseHeaders): void {
    if (this.finished) return;
    this.finished = true;
    const res = this.ex.res;
    for (const _ in trailers) {
      res.addTrailers(trailers as Record<string, string>);
      break;
    }
    res.end();
  }

  onResponseError(_controller: Controller | undefined, err: Error): void {
    if (this.finished) return;
    this.finished = true;
    const ex = this.ex;
    if (err instanceof ClientAbortedError) return;
    if (!ex.res.headersSent) {
      this.owner.failed(ex, err);
      return;
    }
    // Part of the response is already out: the only honest signal left is a broken connection.
    const failure = classify(err);
    ex.errorCode ??= failure.code;
    ex.errorType ??= failure.errorType;
    ex.res.destroy(err);
  }
}
