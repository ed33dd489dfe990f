// pino writing JSON lines to stdout through an async buffer: no syscall per request, yet a
// line shows up in `kubectl logs` within a second on a quiet service, and nothing is lost on exit.
// The buffer holds bytes, not strings: the access log hands it lines already encoded, and
// sonic-boom's string mode measured and re-encoded every batch twice more on its way out.
import pino from 'pino';

export type Logger = pino.Logger;

export interface LogSink {
  logger: Logger;
  /** whole JSON lines, UTF-8, written in order with the logger's own (the access log's batches) */
  writeLines(lines: Buffer): void;
  /** write what is buffered now, without waiting for the buffer to fill */
  flush(): void;
  /** write everything buffered, synchronously: at exit */
  flushSync(): void;
}

const FLUSH_EVERY_MS = 1000;

export function createLogger(level: string, service: string, fd = 1): LogSink {
  const destination = pino.destination({ dest: fd, sync: false, minLength: 4096, contentMode: 'buffer' });
  const lines = { write: (line: string) => destination.write(Buffer.from(line) as unknown as string) };
  const logger = pino(
    {
      level,
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    lines,
  );
  setInterval(() => destination.flush(), FLUSH_EVERY_MS).unref();
  return {
    logger,
    writeLines(encoded) {
      destination.write(encoded as unknown as string);
    },
    flush() {
      destination.flush();
    },
    flushSync() {
      try {
        destination.flushSync();
      } catch {
        // stdout already closed: nothing left to save
      }
    },
  };
}
