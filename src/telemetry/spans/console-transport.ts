// tracing.exporter: console — each finished span as one JSON line on stdout, beside the access
// log, for trying sidelight out without a collector.
import type { Logger } from '../logger.js';
import type { SendResult, SpanTransport } from './export-queue.js';
import type { AttributeKey, SpanRecord } from './span-record.js';

interface SpanList {
  count: number;
  spans: SpanRecord[];
}

export class ConsoleTransport implements SpanTransport<SpanList, readonly SpanRecord[]> {
  constructor(private readonly logger: Logger) {}

  batch(): SpanList {
    return { count: 0, spans: [] };
  }

  append(batch: SpanList, span: SpanRecord): void {
    batch.spans.push(span);
  }

  encode(batch: SpanList): readonly SpanRecord[] {
    return batch.spans;
  }

  send(spans: readonly SpanRecord[]): Promise<SendResult> {
    for (const s of spans) {
      const attributes: Record<string, string | number> = {};
      for (let i = 0; i < s.attributes.length; i += 2) attributes[(s.attributes[i] as AttributeKey).name] = s.attributes[i + 1] as string | number;
      this.logger.info({
        msg: 'span',
        name: s.name,
        kind: s.kind === 2 ? 'server' : 'client',
        traceId: s.traceId,
        spanId: s.spanId,
        parentSpanId: s.parentSpanId || undefined,
        traceState: s.traceState || undefined,
        startTime: new Date(s.startMs).toISOString(),
        durationMs: Math.round((s.endMs - s.startMs) * 1000) / 1000,
        status: s.error ? 'error' : 'unset',
        attributes,
      });
    }
    return Promise.resolve({ ok: true });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
