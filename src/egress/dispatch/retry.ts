// Safe retries for one upstream, as the outermost undici interceptor: each retry is a new
// dispatch down the chain, so metrics, client spans and the breaker see every try.
//
// Retried: connect errors, resets before any response byte (an HTTP/2 stream refused with
// REFUSED_STREAM among them), 502/503/504 answers, and a 429 that
// carries Retry-After (a 429 or 503 with one is retried after the advised wait, or not at all
// when that wait does not fit the request's time), for
// idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE) and for POST/PATCH that carry an
// Idempotency-Key (the API then deduplicates, as Stripe's does). Never retried: anything once
// part of the response went to the app, bodies larger than maxBodyBytes (they are streamed,
// not buffered), sidelight's own refusals (circuit open, overloaded), upgrades. Each retry
// waits a full-jitter backoff capped by maxBackoff and by the request's remaining time, and
// must fit the upstream's retry budget.
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { backoffDelay } from '../backoff.js';
import { parseRetryAfter } from '../../net/retry-after.js';
import type { EgressObserver } from '../observer.js';
import type { RetryBudget } from '../retry-budget.js';
import { ClientAbortedError, LocalFailure, TryTimeoutError, UpstreamTimeoutError } from '../../errors.js';
import { errorCodes, socketFailureKind } from '../../net/socket-errors.js';
import { dispatchHeader, retryableMethod } from '../../proxy/idempotency.js';
import { TryContext, type ProxyDispatchOptions, type ResponseHeaders } from '../../proxy/layer.js';

type Controller = Dispatcher.DispatchController;
type Handler = Dispatcher.DispatchHandler;
type Dispatch = (opts: ProxyDispatchOptions, handler: Handler) => boolean;

export interface RetryOptions {
  upstream: string;
  attempts: number;
  backoff: number;
  maxBackoff: number;
  maxBodyBytes: number;
  /** jitter source; tests pin it */
  random?: () => number;
}

const RETRY_STATUSES = new Set([429, 502, 503, 504]);

/** The retry reason for a transport error seen before any response byte, or undefined. */
export function retryableError(err: Error): string | undefined {
  if (err instanceof LocalFailure || err instanceof ClientAbortedError || err instanceof UpstreamTimeoutError) return undefined;
  if (err instanceof TryTimeoutError) return err.connecting ? 'connect_timeout' : undefined;
  if (refusedStream(err)) return 'refused_stream';
  const kind = socketFailureKind(err);
  if (kind === 'connection_refused' || kind === 'connect_timeout' || kind === 'connection_reset') return kind;
  // A name that does not exist stays so; a resolver that could not answer may answer next time.
  if (kind === 'dns' && errorCodes(err).includes('EAI_AGAIN')) return 'dns';
  return undefined;
}

/**
 * An HTTP/2 stream the upstream reset with REFUSED_STREAM, which says it did not process the
 * request (RFC 9113 §8.7: a draining server, or a stream past a GOAWAY's last id). Other stream
 * resets may come after the upstream acted on the request: never retried. Node names the code only
 * in the message of its ERR_HTTP2_STREAM_ERROR.
 */
function refusedStream(err: Error): boolean {
  return (err as { code?: string }).code === 'ERR_HTTP2_STREAM_ERROR' && err.message.endsWith('NGHTTP2_REFUSED_STREAM');
}

function isStreamBody(body: unknown): body is AsyncIterable<Buffer> {
  return body !== null && typeof body === 'object' && Symbol.asyncIterator in (body as object) && !Buffer.isBuffer(body);
}

/** Reads a body into memory up to `max` bytes; beyond that, hands back a stream of it all. */
async function bufferBody(body: AsyncIterable<Buffer>, max: number): Promise<{ buffer?: Buffer; stream?: AsyncIterable<Buffer> }> {
  const it = body[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let size = 0;
  for (;;) {
    const r = await it.next();
    if (r.done) return { buffer: Buffer.concat(chunks, size) };
    const chunk = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    chunks.push(chunk);
    size += chunk.length;
    if (size > max) return { stream: replayThenRest(chunks, it) };
  }
}

async function* replayThenRest(chunks: Buffer[], it: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  yield* chunks;
  for (;;) {
    const r = await it.next();
    if (r.done) return;
    yield r.value;
  }
}

/**
 * One request's tries. It is the controller the app-side handler sees: pause/resume/abort go
 * to whichever try is current, and an abort between tries ends the request at once.
 */
class RetryingRequest implements Controller {
  attempt = 0;
  private current: Controller | undefined = undefined;
  private timer: NodeJS.Timeout | undefined = undefined;
  private finished = false;
  /** the current try's response head went to the app: from here on, no retry */
  committed = false;
  aborted = false;
  paused = false;
  reason: Error | null = null;
  body: ProxyDispatchOptions['body'];
  replayable: boolean;

  constructor(
    private readonly dispatch: Dispatch,
    private readonly opts: ProxyDispatchOptions,
    readonly handler: Handler,
    private readonly options: RetryOptions,
    private readonly budget: RetryBudget,
    private readonly observers: readonly EgressObserver[],
  ) {
    this.body = opts.body;
    this.replayable = !isStreamBody(opts.body);
  }

  start(): boolean {
    this.handler.onRequestStart?.(this, {});
    const body = this.opts.body;
    if (!isStreamBody(body)) return this.send();
    const length = Number(dispatchHeader(this.opts.headers, 'content-length') ?? NaN);
    if (length > this.options.maxBodyBytes) return this.send();
    // Small enough to replay: read it first (a loopback app sends it in microseconds).
    bufferBody(body, this.options.maxBodyBytes).then(
      ({ buffer, stream }) => {
        if (this.finished) return;
        this.body = buffer ?? (stream as unknown as ProxyDispatchOptions['body']);
        this.replayable = buffer !== undefined;
        this.send();
      },
      (err: Error) => this.fail(err),
    );
    return true;
  }

  send(): boolean {
    if (this.finished) return true;
    this.current = undefined;
    // Each try gets the per-try limit (try-timeout.ts); the in-flight registry ends the whole request.
    const context = this.opts.context;
    let tryContext = context;
    if (context !== undefined && this.attempt > 0) {
      tryContext = new TryContext(context.request, this.attempt, undefined);
      context.request.report(tryContext);
    }
    const opts: ProxyDispatchOptions = { ...this.opts, body: this.body, context: tryContext };
    try {
      return this.dispatch(opts, new TryHandler(this));
    } catch (err) {
      this.fail(err as Error);
      return true;
    }
  }

  /** ms left until the final try's response head is due (requestTimeout, retries included) */
  remaining(): number {
    const request = this.opts.context?.request;
    return request === undefined ? Infinity : request.headDeadline() - performance.now();
  }

  /**
   * Decides whether the failed try `reason` is retried; when yes the budget is spent and the
   * delay chosen: the upstream's advised wait (`advisedMs`, from Retry-After) when it gave one,
   * else the backoff. Order matters: the budget is only charged for retries that would happen.
   */
  mayRetry(reason: string, advisedMs = -1): number | undefined {
    if (this.aborted || this.committed || !this.replayable || this.attempt >= this.options.attempts) return undefined;
    const delay = advisedMs >= 0 ? advisedMs : backoffDelay(this.attempt + 1, this.options.backoff, this.options.maxBackoff, this.options.random);
    if (delay >= this.remaining()) return undefined;
    if (!this.budget.tryAcquire()) {
      for (const o of this.observers) o.retryBudgetExhausted(this.options.upstream);
      return undefined;
    }
    for (const o of this.observers) o.retried(this.options.upstream, reason);
    return delay;
  }

  retryAfter(delay: number): void {
    this.current = undefined;
    this.attempt++;
    if (this.aborted || this.finished) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.send();
    }, delay);
  }

  setCurrent(controller: Controller): void {
    this.current = controller;
    if (this.aborted) controller.abort(this.reason as Error);
    else if (this.paused) controller.pause();
  }

  /** the request is over with an error: tell the app side once */
  fail(err: Error): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    this.handler.onResponseError?.(this, err);
  }

  end(): void {
    this.finished = true;
  }

  isFinished(): boolean {
    return this.finished;
  }

  // Controller, as seen by the app-side handler.
  abort(reason: Error): void {
    if (this.aborted || this.finished) return;
    this.aborted = true;
    this.reason = reason;
    if (this.current) this.current.abort(reason);
    // Between tries, buffering, or still queued in the pool: nothing undici would report back.
    else this.fail(reason);
  }

  pause(): void {
    this.paused = true;
    this.current?.pause();
  }

  resume(): void {
    this.paused = false;
    this.current?.resume();
  }
}

/** One try of a RetryingRequest: either held back (to be retried) or passed to the app. */
class TryHandler implements Handler {
  /** this try's answer is a retryable status: its body is read and dropped, then we retry */
  private discard: number | undefined = undefined;

  constructor(private readonly request: RetryingRequest) {}

  onRequestStart(controller: Controller): void {
    this.request.setCurrent(controller);
  }

  onRequestUpgrade(controller: Controller, statusCode: number, headers: ResponseHeaders, socket: Duplex): void {
    // Upgrades bypass the retry interceptor; forward anyway for completeness.
    this.request.committed = true;
    this.request.end();
    this.request.handler.onRequestUpgrade?.(this.request, statusCode, headers as never, socket);
  }

  onResponseStart(controller: Controller, statusCode: number, headers: ResponseHeaders, statusMessage?: string): void {
    const request = this.request;
    if (request.isFinished()) return controller.abort(request.reason ?? new ClientAbortedError());
    // A 429 without Retry-After may be a quota that no wait will lift: it goes to the app.
    const advised = statusCode === 429 || statusCode === 503 ? parseRetryAfter(headers['retry-after']) : -1;
    if (RETRY_STATUSES.has(statusCode) && (statusCode !== 429 || advised >= 0)) {
      const delay = request.mayRetry(`status_${statusCode}`, advised);
      if (delay !== undefined) {
        this.discard = delay;
        return;
      }
    }
    request.committed = true;
    request.handler.onResponseStart?.(request, statusCode, headers as never, statusMessage);
  }

  onResponseData(_controller: Controller, chunk: Buffer): void {
    if (this.discard !== undefined || this.request.isFinished()) return;
    this.request.handler.onResponseData?.(this.request, chunk);
  }

  onResponseEnd(_controller: Controller, trailers: ResponseHeaders): void {
    const request = this.request;
    if (this.discard !== undefined) return request.retryAfter(this.discard);
    if (request.isFinished()) return;
    request.end();
    request.handler.onResponseEnd?.(request, trailers as never);
  }

  onResponseError(_controller: Controller, err: Error): void {
    const request = this.request;
    if (request.isFinished()) return;
    if (request.aborted) return request.fail(request.reason ?? err);
    // Already decided to retry this answer; a broken body changes nothing.
    if (this.discard !== undefined) return request.retryAfter(this.discard);
    const reason = request.committed ? undefined : retryableError(err);
    const delay = reason === undefined ? undefined : request.mayRetry(reason);
    if (delay !== undefined) return request.retryAfter(delay);
    request.fail(err);
  }
}

export function retryInterceptor(options: RetryOptions, budget: RetryBudget, observers: readonly EgressObserver[]): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) =>
    function retrying(opts: ProxyDispatchOptions, handler: Handler): boolean {
      budget.recordRequest();
      if (options.attempts === 0 || opts.upgrade || !retryableMethod(opts.method, opts.headers)) return dispatch(opts, handler);
      return new RetryingRequest(dispatch as Dispatch, opts, handler, options, budget, observers).start();
    };
}
