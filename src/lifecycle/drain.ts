// The drain's two switches: `draining` (readiness fails, connections close after their answer)
// and, after drain.delay, `refusing` (new ingress requests get 503).
import { EventEmitter } from 'node:events';

export class DrainState extends EventEmitter<{ draining: [reason: string]; refusing: [] }> {
  draining = false;
  refusing = false;
  reason = '';

  begin(reason: string, delayMs: number): boolean {
    if (this.draining) return false;
    this.draining = true;
    this.reason = reason;
    this.emit('draining', reason);
    const refuse = () => {
      this.refusing = true;
      this.emit('refusing');
    };
    if (delayMs > 0) setTimeout(refuse, delayMs).unref();
    else refuse();
    return true;
  }
}
