// What the per-try interceptors (breaker, client metrics, client spans) share: a handler that
// passes every undici callback through unchanged and learns, exactly once, how the try ended,
// and for a gRPC answer, its status (from the trailers, or the head of a trailers-only answer).
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { isGrpcContentType, parseGrpcStatus } from '../../net/grpc-status.js';
import type { ResponseHeaders } from '../../proxy/layer.js';

type Controller = Dispatcher.DispatchController;

export abstract class TryOutcomeHandler implements Dispatcher.DispatchHandler {
  /** the upstream's status code; 0 until a response head (or a 101) arrived */
  protected status = 0;
  /** the answer is gRPC (content-type application/grpc*) */
  protected grpc = false;
  /** a gRPC answer's grpc-status; -1 until one arrived */
  protected grpcStatus = -1;
  private ended = false;

  constructor(private readonly handler: Dispatcher.DispatchHandler) {}

  /** The try is over: `err` is undefined when an answer completed or an upgrade was accepted. */
  protected abstract tryEnded(err: Error | undefined): void;

  /** Ends the try once; also for a dispatch that threw before any callback. */
  endTry(err: Error | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.tryEnded(err);
  }

  onRequestStart(controller: Controller, context: unknown): void {
    this.handler.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(controller: Controller, statusCode: number, headers: ResponseHeaders, socket: Duplex): void {
    this.status = statusCode;
    this.endTry(undefined);
    this.handler.onRequestUpgrade?.(controller, statusCode, headers as never, socket);
  }

  onResponseStart(controller: Controller, statusCode: number, headers: ResponseHeaders, statusMessage?: string): void {
    this.status = statusCode;
    const type = headers['content-type'];
    if (type !== undefined && isGrpcContentType(type)) {
      this.grpc = true;
      this.grpcStatus = parseGrpcStatus(headers['grpc-status']);
    }
    this.handler.onResponseStart?.(controller, statusCode, headers as never, statusMessage);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    this.handler.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Controller, trailers: ResponseHeaders): void {
    if (this.grpc) {
      const status = parseGrpcStatus(trailers?.['grpc-status']);
      if (status >= 0) this.grpcStatus = status;
    }
    this.endTry(undefined);
    this.handler.onResponseEnd?.(controller, trailers as never);
  }

  onResponseError(controller: Controller, err: Error): void {
    this.endTry(err);
    this.handler.onResponseError?.(controller, err);
  }
}

/** a request's headers as the pipeline sends them (flat, lower-case names) say it is a gRPC call */
export function isGrpcRequest(headers: unknown): boolean {
  if (!Array.isArray(headers)) return false;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === 'content-type') return isGrpcContentType(headers[i + 1] as string);
  }
  return false;
}
