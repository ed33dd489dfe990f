// The streaming core: one undici dispatch per exchange, bodies piped both ways with backpressure.
// It knows requests, responses and sockets; what happens around them belongs to layers.
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { beforeEarlyHead } from './early-answer.js';
import type { Exchange, Abortable } from './exchange.js';
import { ClientAbortedError, LocalFailure, TryTimeoutError, classify, type Failure } from '../errors.js';
import { stripResponseHopByHop } from './headers.js';
import type { Inflight } from './inflight.js';
import { writeInformational } from './informational.js';
import type { ResponseHeaders } from './layer.js';
import { streamIdleTimeout } from './timeout-errors.js';
import { endGrpcCall, writeTrailersOnly } from './grpc-answer.js';
import { parseGrpcStatus } from '../net/grpc-status.js';

type Controller = Dispatcher.DispatchController;

/** What the forward handler needs from the pipeline that owns the exchange. */
export interface ForwardOwner {
  readonly inflight: Inflight;
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
  /** a gRPC trailers-only answer (grpc-status in the head): its head is written when it ends, ending the stream */
  private heldHead: ResponseHeaders | undefined = undefined;

  constructor(
    private readonly ex: Exchange,
    private readonly owner: ForwardOwner,
  ) {}

  abort(reason: Error): void {
    if (this.finished) {
      // The whole answer is handed over but the client is not reading it: a cut ends it too.
      if (reason instanceof LocalFailure && !this.ex.answered) this.cut(reason.failure);
      return;
    }
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
    if (statusCode < 200) {
      writeInformational(res, statusCode, headers, statusMessage);
      return;
    }
    ex.status = statusCode;
    const appCloses = ex.requestBody !== undefined && !ex.requestBody.ended && closes(headers.connection);
    stripResponseHopByHop(headers);
    this.owner.beforeResponse(ex, headers);
    this.owner.inflight.responseStarted(ex);
    if (ex.requestBody !== undefined && !ex.requestBody.ended) beforeEarlyHead(ex, headers, appCloses);
    if (ex.grpc && headers['grpc-status'] !== undefined) {
      ex.grpcStatus = parseGrpcStatus(headers['grpc-status']);
      this.heldHead = headers;
      return;
    }
    // HTTP/2 has no reason phrase.
    res.writeHead(statusCode, ex.h2 ? undefined : statusMessage || undefined, headers as Record<string, string | string[]>);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (this.finished) return;
    const ex = this.ex;
    if (this.heldHead) this.releaseHead();
    ex.bytesOut += chunk.length;
    ex.lastActivity = this.owner.inflight.now;
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
    const ex = this.ex;
    const res = ex.res;
    if (this.heldHead) {
      if (!hasAny(trailers)) return writeTrailersOnly(ex.stream, ex.status, this.heldHead);
      this.releaseHead();
    }
    if (ex.grpc && trailers['grpc-status'] !== undefined) ex.grpcStatus = parseGrpcStatus(trailers['grpc-status']);
    if (hasAny(trailers)) res.addTrailers(trailers as Record<string, string>);
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
    this.cut(midBodyFailure(err));
  }

  /** a head held as trailers-only turned out to have a body after all: write it as an ordinary head */
  private releaseHead(): void {
    const headers = this.heldHead!;
    this.heldHead = undefined;
    this.ex.res.writeHead(this.ex.status, headers as Record<string, string | string[]>);
  }

  private cut(failure: Failure): void {
    const ex = this.ex;
    ex.errorCode ??= failure.code;
    ex.errorType ??= failure.errorType;
    // A gRPC call can still be ended properly: trailers with the status say why, where a reset
    // would reach the client as "call ended without gRPC status".
    if (ex.grpc && !ex.res.writableEnded && !ex.stream.destroyed) return endGrpcCall(ex, failure);
    ex.res.destroy();
  }
}

/** A per-try limit that runs out once the head is in is a gap between body chunks: the stream went idle. */
function midBodyFailure(err: Error): Failure {
  return err instanceof TryTimeoutError ? streamIdleTimeout.failure : classify(err);
}

function hasAny(headers: ResponseHeaders): boolean {
  for (const _ in headers) return true;
  return false;
}

function closes(connection: ResponseHeaders[string]): boolean {
  if (connection === undefined) return false;
  return (typeof connection === 'string' ? connection : connection.join(',')).toLowerCase().includes('close');
}
