/**
 * The producer's pending `flush()` calls: each resolves once every record outstanding at its call
 * has an outcome. While one waits, queued records leave at once instead of lingering.
 */
export class FlushWaiters<R> {
  private readonly waiters: { remaining: Set<R>; resolve: () => void }[] = [];

  /** Whether a flush is waiting (the accumulator's `urgent`). */
  get waiting(): boolean {
    return this.waiters.length > 0;
  }

  /** Resolves once each of `records` went through `settled`. */
  wait(records: Set<R>): Promise<void> {
    return new Promise<void>((resolve) => this.waiters.push({ remaining: records, resolve }));
  }

  /** `record` has its outcome (or was withdrawn): the flushes that only waited for it resolve. */
  settled(record: R): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const waiter = this.waiters[i]!;
      waiter.remaining.delete(record);
      if (waiter.remaining.size === 0) {
        this.waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }
}
