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

/** What sending one batch came to. */
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
  close(): Promise<void>;
}

export type DropReason = 'queue_full' | 'export_failed';

export interface ExportQueueHooks {
  exported?(count: number): void;
  dropped?(count: number, reason: DropReason, detail?: string): void;
}

const BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 5000;

export class ExportQueue {
  /** full batches, oldest first, then the one being filled */
  private readonly full: SpanBatch[] = [];
  private filling: SpanBatch | undefined;
  private queued = 0;
  private exporting: Promise<void> | undefined;
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

  get length(): number {
    return this.queued;
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

  /** Stops taking spans and exports what is queued, each batch tried once: the process is exiting. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    await this.flush();
    await this.transport.close();
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
    const run = this.send(batch).finally(() => {
      this.exporting = undefined;
    });
    this.exporting = run;
    return run;
  }

  private async send(batch: SpanBatch): Promise<void> {
    let payload: unknown;
    try {
      payload = await this.transport.encode(batch);
    } catch (err) {
      this.hooks.dropped?.(batch.count, 'export_failed', (err as Error).message);
      return;
    }
    for (let attempt = 1; ; attempt++) {
      let result: SendResult;
      try {
        result = await this.transport.send(payload);
      } catch (err) {
        result = { ok: false, retryable: false, error: (err as Error).message };
      }
      if (result.ok) {
        this.transport.delivered?.(batch);
        this.hooks.exported?.(batch.count);
        return;
      }
      if (!result.retryable || attempt >= this.maxAttempts || this.stopped) {
        this.hooks.dropped?.(batch.count, 'export_failed', result.error);
        return;
      }
      // Exponential backoff with jitter, or the collector's Retry-After, within bounds.
      const backoff = Math.min(MAX_BACKOFF_MS, result.retryAfterMs ?? BACKOFF_MS * 2 ** (attempt - 1) * (0.5 + Math.random() / 2));
      await new Promise((resolve) => setTimeout(resolve, backoff).unref());
    }
  }

  private clearTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }
}
