// The span export pipeline: a bounded queue, batches encoded and sent off the request path, one
// export in flight at a time (retries of a failed batch included), and a count of what was
// dropped. A collector that is down or slow costs dropped spans, never request latency, and
// never more memory than the queue's cap: the same as a live one. Spans are written into their
// batch as they finish (for OTLP: encoded to protobuf bytes), so nothing per span stays on the heap.
import type { SpanRecord } from './span-record.js';

export interface ExportQueueOptions {
  /** OTEL_BSP_MAX_QUEUE_SIZE: finished spans waiting; beyond it new ones are dropped */
  maxQueueSize: number;
  /** OTEL_BSP_MAX_EXPORT_BATCH_SIZE: spans per export request */
  maxExportBatchSize: number;
  /** OTEL_BSP_SCHEDULE_DELAY: a partial batch waits at most this long */
  scheduledDelayMillis: number;
  /** tries per batch when the collector fails in a way worth retrying */
  maxAttempts?: number;
}

/**
 * What sending one batch came to. `retryable` false: the failure is permanent (a certificate not
 * trusted, a 4xx), so the batch is not sent again. `retryAfterMs`: the collector's Retry-After.
 */
export type SendResult = { ok: true } | { ok: false; retryable: boolean; error: string; retryAfterMs?: number };

/** Spans gathered for one export request; `count` is kept by the queue. */
export interface SpanBatch {
  count: number;
}

/** Where batches go: the OTLP/HTTP client, or the console. A batch is encoded once, however often it is sent. */
export interface SpanTransport<Batch extends SpanBatch = SpanBatch, Payload = unknown> {
  batch(): Batch;
  /** takes a finished span into the batch; called on the request's own turn, so it must be cheap */
  append(batch: Batch, span: SpanRecord): void;
  encode(batch: Batch): Payload | Promise<Payload>;
  send(payload: Payload): Promise<SendResult>;
  /** the batch was delivered: what it holds may be reused for a later one */
  delivered?(batch: Batch): void;
  /** `abandon`: requests still in flight are cut off rather than waited for */
  close(abandon?: boolean): Promise<void>;
}

export type DropReason = 'queue_full' | 'export_failed';

export interface ExportQueueHooks {
  exported?(count: number): void;
  dropped?(count: number, reason: DropReason, detail?: string): void;
  /** a batch failed and is sent again in `delayMs` */
  retrying?(count: number, delayMs: number, detail: string): void;
}

const BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 5000;
/**
 * The longest Retry-After honoured. While a batch waits, the queue fills and new spans are
 * dropped; a collector that asks for longer has the batch dropped at once instead.
 */
const MAX_RETRY_AFTER_MS = 60_000;
/**
 * How long the last export may take when the process exits: inside the 5 s the drain gives all
 * flushers (lifecycle/shutdown.ts), so what is still unsent then is counted before the exit.
 */
const SHUTDOWN_BUDGET_MS = 4_000;

export class ExportQueue {
  /** full batches, oldest first, then the one being filled */
  private readonly full: SpanBatch[] = [];
  private filling: SpanBatch | undefined;
  private queued = 0;
  private exporting: Promise<void> | undefined;
  /** the batch being exported, until it is delivered or dropped */
  private sending: SpanBatch | undefined;
  /** ends the wait for a failed batch's retry */
  private wake: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private stopped = false;
  private readonly maxAttempts: number;

  constructor(
    private readonly transport: SpanTransport,
    private readonly options: ExportQueueOptions,
    private readonly hooks: ExportQueueHooks = {},
  ) {
    this.maxAttempts = options.maxAttempts ?? 3;
  }

  /** Queues a finished span; the request path does nothing else. */
  add(span: SpanRecord): void {
    if (this.stopped) return; // exiting: the last batch is already on its way
    if (this.queued >= this.options.maxQueueSize) {
      this.hooks.dropped?.(1, 'queue_full');
      return;
    }
    const batch = (this.filling ??= this.transport.batch());
    this.transport.append(batch, span);
    batch.count++;
    this.queued++;
    if (batch.count >= this.options.maxExportBatchSize) {
      this.full.push(batch);
      this.filling = undefined;
    }
    if (this.exporting) return;
    if (this.full.length > 0) this.exportSoon();
    else this.timer ??= setTimeout(this.onTimer, this.options.scheduledDelayMillis).unref();
  }

  /** Exports everything queued (the drain), at most one request at a time. */
  async flush(): Promise<void> {
    this.clearTimers();
    while (this.exporting) await this.exporting;
    while (this.queued > 0) await this.exportBatch();
  }

  /**
   * Stops taking spans and exports what is queued, each batch tried once, for at most
   * SHUTDOWN_BUDGET_MS: the process is exiting. A batch waiting for its retry is dropped, and
   * whatever is unsent when the time is up is counted as dropped.
   */
  async shutdown(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    let timer: NodeJS.Timeout | undefined;
    // A timer that holds the process open: the flush may be waiting on nothing else.
    const outOfTime = new Promise<true>((resolve) => (timer = setTimeout(resolve, SHUTDOWN_BUDGET_MS, true)));
    const abandoned = await Promise.race([this.flush().then(() => false), outOfTime]);
    clearTimeout(timer);
    if (abandoned) this.abandon();
    await this.transport.close(abandoned);
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.startExport();
  };

  private exportSoon(): void {
    // Not inside add(): the span that fills a batch belongs to a request still being answered.
    this.immediate ??= setImmediate(() => {
      this.immediate = undefined;
      this.startExport();
    });
  }

  private startExport(): void {
    if (this.exporting || this.queued === 0) return;
    this.clearTimers();
    void this.exportBatch().then(() => {
      if (this.stopped || this.queued === 0) return;
      if (this.full.length > 0) this.exportSoon();
      else this.timer ??= setTimeout(this.onTimer, this.options.scheduledDelayMillis).unref();
    });
  }

  private exportBatch(): Promise<void> {
    let batch = this.full.shift();
    if (!batch) {
      batch = this.filling!;
      this.filling = undefined;
    }
    this.queued -= batch.count;
    this.sending = batch;
    const run = this.send(batch)
      .then((failure) => {
        if (this.sending !== batch) return; // abandoned at exit: already counted
        this.sending = undefined;
        if (failure !== undefined) {
          this.hooks.dropped?.(batch.count, 'export_failed', failure);
          return;
        }
        this.transport.delivered?.(batch);
        this.hooks.exported?.(batch.count);
      })
      .finally(() => {
        this.exporting = undefined;
      });
    this.exporting = run;
    return run;
  }

  /** Sends a batch, retrying what is worth it; resolves with why it was not delivered, if it was not. */
  private async send(batch: SpanBatch): Promise<string | undefined> {
    let payload: unknown;
    try {
      payload = await this.transport.encode(batch);
    } catch (err) {
      return (err as Error).message;
    }
    for (let attempt = 1; ; attempt++) {
      let result: SendResult;
      try {
        result = await this.transport.send(payload);
      } catch (err) {
        result = { ok: false, retryable: false, error: (err as Error).message };
      }
      if (result.ok) return undefined;
      if (!result.retryable || attempt >= this.maxAttempts || this.stopped) return result.error;
      if (result.retryAfterMs !== undefined && result.retryAfterMs > MAX_RETRY_AFTER_MS) {
        return `${result.error}, longer than the ${MAX_RETRY_AFTER_MS / 1000} s a batch may wait`;
      }
      // The collector's Retry-After, or exponential backoff with jitter.
      const delay = result.retryAfterMs ?? Math.min(MAX_BACKOFF_MS, BACKOFF_MS * 2 ** (attempt - 1) * (0.5 + Math.random() / 2));
      this.hooks.retrying?.(batch.count, delay, result.error);
      await this.pause(delay);
      if (this.stopped) return `${result.error}; the process stopped before the retry`;
    }
  }

  /** Waits `ms`, or until shutdown() cuts the wait short. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.wake?.(), ms).unref();
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  /** The exit's time is up: the batch in flight and everything queued are counted as dropped. */
  private abandon(): void {
    const unsent = this.queued + (this.sending?.count ?? 0);
    this.full.length = 0;
    this.filling = undefined;
    this.sending = undefined;
    this.queued = 0;
    if (unsent > 0) this.hooks.dropped?.(unsent, 'export_failed', 'the process stopped before the collector took them');
  }

  private clearTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }
}
