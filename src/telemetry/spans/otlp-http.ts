// OTLP/HTTP with protobuf bodies (the default OTLP transport; Jaeger, the OpenTelemetry Collector
// and Tempo take it on :4318): POST {endpoint} application/x-protobuf, optionally gzipped. Its
// own small keep-alive pool, so exports never queue behind the app's traffic.
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { classify } from '../../errors.js';
import { parseRetryAfter } from '../../net/retry-after.js';
import { Pool, requestVia } from '../../proxy/undici.js';
import type { OtlpExportSettings } from '../../config/tracing-env.js';
import type { SendResult, SpanTransport } from './export-queue.js';
import type { OtlpSpanBatch, OtlpTraceEncoder } from './otlp-encoding.js';
import type { SpanRecord } from './span-record.js';

const gzip = promisify(gzipCallback);

/** OTLP/HTTP §Retryable response codes */
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);

export class OtlpHttpTransport implements SpanTransport<OtlpSpanBatch, Buffer> {
  private readonly pool: Pool;
  private readonly path: string;
  private readonly headers: Record<string, string>;

  constructor(
    private readonly settings: OtlpExportSettings,
    private readonly encoder: OtlpTraceEncoder,
  ) {
    const url = settings.endpoint;
    this.path = url.pathname + url.search;
    this.headers = {
      ...settings.headers,
      'content-type': 'application/x-protobuf',
      'user-agent': settings.userAgent,
      ...(settings.compression === 'gzip' ? { 'content-encoding': 'gzip' } : {}),
    };
    this.pool = new Pool(url.origin, {
      connections: 2,
      keepAliveTimeout: 30_000,
      headersTimeout: settings.timeoutMillis,
      bodyTimeout: settings.timeoutMillis,
      connect: { timeout: settings.timeoutMillis, ca: settings.ca, cert: settings.clientCertificate, key: settings.clientKey },
    });
  }

  batch(): OtlpSpanBatch {
    return this.encoder.batch();
  }

  append(batch: OtlpSpanBatch, span: SpanRecord): void {
    this.encoder.append(batch, span);
  }

  encode(batch: OtlpSpanBatch): Buffer | Promise<Buffer> {
    const body = this.encoder.finish(batch);
    return this.settings.compression === 'gzip' ? gzip(body) : body;
  }

  async send(body: Buffer): Promise<SendResult> {
    try {
      // The pool's connect, headers and body timeouts bound the whole request.
      const res = await requestVia(this.pool, { method: 'POST', path: this.path, headers: this.headers, body });
      await res.body.dump();
      if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true };
      const retryAfter = res.headers['retry-after'];
      const advised = parseRetryAfter(retryAfter);
      const retryAfterMs = advised < 0 ? undefined : advised;
      return {
        ok: false,
        retryable: RETRYABLE_STATUS.has(res.statusCode),
        error: `collector answered ${res.statusCode}${retryAfterMs === undefined ? '' : ` with Retry-After: ${String(retryAfter).slice(0, 40)}`}`,
        retryAfterMs,
      };
    } catch (err) {
      const e = err as { code?: string; cause?: { code?: string }; name?: string; message?: string };
      const code = e.code ?? e.cause?.code ?? (e.name === 'TimeoutError' ? 'timed out' : e.message);
      // A certificate not trusted or a protocol mismatch fails the same way every time.
      if (classify(err).errorType === 'tls') return { ok: false, retryable: false, error: `TLS handshake with the collector failed (${code})` };
      // Unreachable, reset or slow: all worth another try later.
      return { ok: false, retryable: true, error: `collector unreachable (${code})` };
    }
  }

  delivered(batch: OtlpSpanBatch): void {
    this.encoder.recycle(batch);
  }

  close(abandon = false): Promise<void> {
    return abandon ? this.pool.destroy() : this.pool.close();
  }
}
