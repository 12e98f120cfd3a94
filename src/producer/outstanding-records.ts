/**
 * The producer's records accepted and still without an outcome: in acceptance order, with the one
 * deliveryTimeoutMs timer that fails the overdue ones (`OutstandingRecords`), and the `flush()`
 * calls waiting for them (`FlushWaiters`: each resolves once every record outstanding at its call
 * has an outcome). Where a waiting record is (memory, its partition's queue, a batch in flight) is
 * record-accumulator.ts and batch-dispatch.ts; this file only knows that it has no outcome yet.
 */
import type { SchedulerLike, Subscription } from 'rxjs';

export class OutstandingRecords<R extends { readonly deadline: number }> {
  private readonly records = new Set<R>();
  private deliveryTimer: Subscription | undefined;

  constructor(
    private readonly scheduler: SchedulerLike,
    /** `record` reached its deadline: it must leave (through `delete`) before this returns. */
    private readonly onOverdue: (record: R) => void,
  ) {}

  get size(): number {
    return this.records.size;
  }

  add(record: R): void {
    this.records.add(record);
    if (this.deliveryTimer === undefined) this.armDeliveryTimer();
  }

  /** `record` has its outcome (or was withdrawn); with nothing outstanding, an idle producer holds no timer. */
  delete(record: R): void {
    this.records.delete(record);
    if (this.records.size === 0) this.armDeliveryTimer();
  }

  /** The records outstanding now (a copy: what a flush waits for). */
  current(): Set<R> {
    return new Set(this.records);
  }

  /**
   * One timer for every record's deliveryTimeoutMs rather than one per record: records leave
   * in acceptance order, so the oldest one is always first and has the nearest deadline.
   */
  private armDeliveryTimer(): void {
    this.deliveryTimer?.unsubscribe();
    this.deliveryTimer = undefined;
    const oldest = this.records.values().next().value as R | undefined;
    if (oldest === undefined) return;
    this.deliveryTimer = this.scheduler.schedule(() => {
      this.deliveryTimer = undefined;
      this.expireOverdue();
    }, Math.max(0, oldest.deadline - this.scheduler.now()));
  }

  private expireOverdue(): void {
    const now = this.scheduler.now();
    for (const record of this.records) {
      if (record.deadline > now) break;
      // Deleting the current element while iterating a Set is safe.
      this.onOverdue(record);
    }
    this.armDeliveryTimer();
  }
}

/**
 * The pending `flush()` calls: each resolves once every record outstanding at its call has an
 * outcome. While one waits, queued records leave at once instead of lingering.
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
