// Deadlines checked by one coarse interval instead of a timer per item: an intrusive doubly
// linked list (the items carry their own links, so adding and removing allocate nothing) and
// a 25 ms sweep that runs only while the list is non-empty. Used for exchanges (the in-flight
// registry) and for single tries (the per-try timeout). undici's own timers tick
// every ~500 ms for delays of a second or more, far too coarse for either.

/** Deadlines fire at most this late; timeouts are hundreds of ms and up, so 25 ms is plenty. */
const TICK_MS = 25;

export interface Timed<T> {
  /** performance.now() time at which the item expires */
  deadline: number;
  prev: T | undefined;
  next: T | undefined;
}

export class DeadlineList<T extends Timed<T>> {
  count = 0;
  /**
   * performance.now() as of the last sweep (or the add that started the sweeps): at most one
   * tick old while anything is listed. Stamping activity with it costs no clock read.
   */
  now = 0;
  private head: T | undefined = undefined;
  private tail: T | undefined = undefined;
  private timer: NodeJS.Timeout | undefined = undefined;

  /** `expire` is called at each sweep for every listed item past its deadline; it may remove it */
  constructor(private readonly expire: (item: T) => void) {}

  add(item: T): void {
    item.prev = this.tail;
    item.next = undefined;
    if (this.tail) this.tail.next = item;
    else this.head = item;
    this.tail = item;
    this.count++;
    if (!this.timer) {
      this.now = performance.now();
      this.timer = setInterval(() => this.sweep(), TICK_MS);
      this.timer.unref();
    }
  }

  /** false when the item was not listed */
  remove(item: T): boolean {
    if (item.prev) item.prev.next = item.next;
    else if (this.head === item) this.head = item.next;
    else return false;
    if (item.next) item.next.prev = item.prev;
    else this.tail = item.prev;
    item.prev = item.next = undefined;
    if (--this.count === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    return true;
  }

  /** Calls `fn` for every listed item; `fn` may remove it. */
  forEach(fn: (item: T) => void): void {
    for (let item = this.head; item; ) {
      const next = item.next;
      fn(item);
      item = next;
    }
  }

  private sweep(): void {
    const now = (this.now = performance.now());
    for (let item = this.head; item; ) {
      const next = item.next;
      if (item.deadline <= now) this.expire(item);
      item = next;
    }
  }
}
