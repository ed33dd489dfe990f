// Warnings that a failing dependency repeats (a collector that is down fails every export) as at
// most one line per kind every 10 s, each saying how many were held back since the last one.
// Kinds are a fixed vocabulary chosen by the caller, never text from the outside.
import type { Logger } from './logger.js';

const EVERY_MS = 10_000;

export class ThrottledLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly msg: string,
    private readonly everyMs = EVERY_MS,
  ) {}

  /**
   * Whether a line of this kind may go out now (none did in the last 10 s); a line held back is
   * counted. Callers build the line only when it is due: the check itself allocates nothing.
   */
  due(kind: string): boolean {
    const seen = this.last.get(kind);
    if (seen === undefined) return true;
    if (Date.now() - seen.at >= this.everyMs) return true;
    seen.suppressed++;
    return false;
  }

  /** Writes the line `due` allowed. */
  warn(kind: string, fields: Record<string, unknown>): void {
    const seen = this.last.get(kind);
    this.last.set(kind, { at: Date.now(), suppressed: 0 });
    this.logger.warn({ msg: this.msg, kind, ...fields, suppressedSinceLast: seen?.suppressed || undefined });
  }
}
