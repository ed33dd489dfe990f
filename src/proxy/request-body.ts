// The client's request body as undici reads it: an async iterator over the IncomingMessage that
// counts the bytes, stamps each chunk for the idle timeout and tells the in-flight registry when
// the body has fully arrived. It is never handed to undici as a stream: undici destroys a stream
// body it gives up on (an early answer, an abort), and a destroyed request leaves the client's
// socket unread, so the client hangs mid-upload. Here the body stays sidelight's to drop or keep.
import type { IncomingMessage } from 'node:http';
import type { Exchange } from './exchange.js';
import type { Inflight } from './inflight.js';

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

export class RequestBodySource implements AsyncIterableIterator<Buffer> {
  /** the whole body has arrived */
  ended = false;
  /** undici will read no more: pending and later reads end at once */
  private stopped = false;
  private waiting: { resolve: (r: IteratorResult<Buffer>) => void; reject: (err: Error) => void } | undefined = undefined;
  private failure: Error | undefined = undefined;
  private readonly req: IncomingMessage;

  constructor(
    private readonly ex: Exchange,
    private readonly inflight: Inflight,
  ) {
    const req = (this.req = ex.req);
    req.on('readable', this.onReadable);
    req.once('end', this.onEnd);
    req.once('error', this.onError);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<Buffer>> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.stopped || this.ended) return Promise.resolve(DONE);
    const chunk = this.take();
    if (chunk) return Promise.resolve({ done: false, value: chunk });
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  return(): Promise<IteratorResult<Buffer>> {
    this.stop();
    return Promise.resolve(DONE);
  }

  /** undici will read no more of it: a pending read ends, the request stays open for the caller to drop or keep */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.req.off('readable', this.onReadable);
    this.settle(DONE);
  }

  /**
   * Reads the rest and drops it, telling `onChunk` each chunk's size (for the caller's bound).
   * The source must have been stopped. Calls `done` once the body has ended.
   */
  discard(onChunk: (n: number) => void, done: () => void): void {
    const req = this.req;
    if (this.ended) return done();
    req.on('data', (chunk: Buffer) => onChunk(chunk.length));
    req.once('end', done);
    req.resume();
  }

  // Not `read`: undici calls `body.read(0)` on any body that has one, taking it for a stream.
  private take(): Buffer | null {
    const chunk = this.req.read() as Buffer | null;
    if (chunk === null) return null;
    const ex = this.ex;
    ex.bytesIn += chunk.length;
    ex.lastActivity = this.inflight.now;
    return chunk;
  }

  private settle(result: IteratorResult<Buffer>): void {
    const waiting = this.waiting;
    if (!waiting) return;
    this.waiting = undefined;
    waiting.resolve(result);
  }

  private readonly onReadable = (): void => {
    if (!this.waiting) return;
    const chunk = this.take();
    if (chunk) this.settle({ done: false, value: chunk });
  };

  private readonly onEnd = (): void => {
    this.ended = true;
    this.inflight.requestEnded(this.ex, performance.now());
    this.settle(DONE);
  };

  private readonly onError = (err: Error): void => {
    this.failure = err;
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.reject(err);
  };
}
