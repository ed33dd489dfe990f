// The drain, start to exit: readiness fails at once; after drain.delay new ingress requests are
// refused and idle keep-alive sockets closed; once nothing is in flight (or at drain.timeout,
// where what is still open is cut and logged as `shutdown`) telemetry is flushed and the process
// exits 0. Egress serves the app until the very end.
import type { Closable } from '../proxy/front-door.js';
import type { Inflight } from '../proxy/inflight.js';
import { shutdown } from '../proxy/timeout-errors.js';
import type { Logger } from '../telemetry/logger.js';
import type { DrainState } from './drain.js';

export interface ShutdownDeps {
  drain: DrainState;
  delay: number;
  timeout: number;
  /** listeners whose idle connections close when refusing starts (ingress) */
  refusingServers: Closable[];
  /** every listener, closed at exit */
  servers: Closable[];
  inflight: Inflight[];
  /** flushers run before exit (span export, log buffer), each bounded */
  flushers: Array<() => Promise<void> | void>;
  logger: Logger;
}

const FLUSH_BUDGET_MS = 5_000;

export class Shutdown {
  readonly exited: Promise<number>;
  private resolveExit!: (code: number) => void;
  private finishing = false;

  constructor(private readonly deps: ShutdownDeps) {
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
    deps.drain.on('refusing', () => {
      for (const s of deps.refusingServers) s.closeIdleConnections();
    });
  }

  /** Starts the drain; false when one is already under way. */
  begin(reason: string): boolean {
    const { drain, delay, timeout, inflight, logger } = this.deps;
    if (!drain.begin(reason, delay)) return false;
    const counts = () => inflight.reduce((n, i) => n + i.count, 0);
    logger.info({ msg: 'drain started', reason, inflight: counts(), delayMs: delay, timeoutMs: timeout });
    const refusing = new Promise<void>((resolve) => (drain.refusing ? resolve() : drain.once('refusing', () => resolve())));
    const quiet = refusing.then(() => Promise.all(inflight.map((i) => i.idle()))).then(() => 'idle' as const);
    const deadline = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeout).unref());
    void Promise.race([quiet, deadline]).then((why) => {
      logger.info({ msg: 'drain finished', why, inflight: counts() });
      // Before the sockets close: an exchange without its head yet is answered 503 `shutdown`, a
      // streaming one is cut; either way its log line names the cause.
      for (const i of inflight) i.cutAll(shutdown);
      // The answers to the cut are written in the same turn; they reach the sockets before they close.
      setImmediate(() => void this.finish(0));
    });
    return true;
  }

  /** Flushes telemetry, closes listeners and resolves `exited`. */
  async finish(code: number): Promise<void> {
    if (this.finishing) return;
    this.finishing = true;
    for (const s of this.deps.servers) {
      s.close();
      s.closeAllConnections();
    }
    // The bound's timer holds the process open: with the listeners closed, a flusher waiting on
    // an unref'd timer (an export's retry backoff) would otherwise leave Node with nothing to
    // run, and it would exit 13 from the unsettled top-level await, before the `stopped` line.
    let timer: NodeJS.Timeout | undefined;
    const budget = new Promise((resolve) => (timer = setTimeout(resolve, FLUSH_BUDGET_MS)));
    await Promise.all(this.deps.flushers.map((f) => Promise.race([Promise.resolve(f()).catch(() => undefined), budget])));
    clearTimeout(timer);
    this.resolveExit(code);
  }
}
