/**
 * The producer's records accepted and still without an outcome: in acceptance order, with the one
 * deliveryTimeoutMs timer that fails the overdue ones (`OutstandingRecords`), and the `flush()`
 * calls waiting for them (`FlushWaiters`: each resolves once every record outstanding at its call
 * has an outcome). Where a waiting record is (memory, its partition's queue, a batch in flight) is
 * record-accumulator.ts and batch-dispatch.ts; this file only knows that it has no outcome yet.
 */
import type { SchedulerLike, Subscription } from 'rxjs';

/** Why a record is overdue: its `deliveryTimeoutMs`, or no broker reached within the first-contact bound. */
export type OverdueReason = 'delivery' | 'firstContact';

/**
 * What OutstandingRecords needs of a record: its deadlines, and the two links that chain it into the
 * list (an intrusive list: adding and removing a record costs no hashing and no allocation, which a
 * `Set` of every record in flight did on the hot path).
 */
export interface OutstandingEntry {
  readonly deadline: number;
  readonly acceptedTick: number;
  outstandingPrev: OutstandingEntry | undefined;
  outstandingNext: OutstandingEntry | undefined;
  outstandingListed: boolean;
}

export class OutstandingRecords<R extends OutstandingEntry> {
  private head: R | undefined;
  private tail: R | undefined;
  private count = 0;
  private deliveryTimer: Subscription | undefined;
  /** While set (no broker reached yet), a record is also overdue this long after it was accepted. */
  private firstContactMs: number | undefined;

  constructor(
    private readonly scheduler: SchedulerLike,
    /** `record` reached its deadline: it must leave (through `delete`) before this returns. */
    private readonly onOverdue: (record: R, reason: OverdueReason) => void,
  ) {}

  get size(): number {
    return this.count;
  }

  add(record: R): void {
    if (record.outstandingListed) return;
    record.outstandingListed = true;
    record.outstandingPrev = this.tail;
    record.outstandingNext = undefined;
    if (this.tail === undefined) this.head = record;
    else this.tail.outstandingNext = record;
    this.tail = record;
    this.count++;
    if (this.deliveryTimer === undefined) this.armDeliveryTimer();
  }

  /** `record` has its outcome (or was withdrawn); with nothing outstanding, an idle producer holds no timer. */
  delete(record: R): void {
    if (!record.outstandingListed) return;
    record.outstandingListed = false;
    const prev = record.outstandingPrev as R | undefined;
    const next = record.outstandingNext as R | undefined;
    if (prev === undefined) this.head = next;
    else prev.outstandingNext = next;
    if (next === undefined) this.tail = prev;
    else next.outstandingPrev = prev;
    record.outstandingPrev = record.outstandingNext = undefined;
    this.count--;
    if (this.count === 0) this.armDeliveryTimer();
  }

  /** The records outstanding now, in acceptance order (a copy: what a flush waits for). */
  current(): Set<R> {
    const records = new Set<R>();
    for (let r = this.head; r !== undefined; r = r.outstandingNext as R | undefined) records.add(r);
    return records;
  }

  /** Bound records by `ms` after acceptance too (until a broker is reached), or stop doing so (`undefined`). */
  setFirstContactMs(ms: number | undefined): void {
    this.firstContactMs = ms;
    this.armDeliveryTimer();
  }

  /** Stop the timer (the producer is closed; nothing is outstanding any more). */
  close(): void {
    this.deliveryTimer?.unsubscribe();
    this.deliveryTimer = undefined;
  }

  private dueAt(record: R): { at: number; reason: OverdueReason } {
    const first = this.firstContactMs === undefined ? Infinity : record.acceptedTick + this.firstContactMs;
    return first < record.deadline ? { at: first, reason: 'firstContact' } : { at: record.deadline, reason: 'delivery' };
  }

  /**
   * One timer for every record's deadline rather than one per record: records leave in acceptance
   * order, so the oldest one is always first and has the nearest deadline (both bounds count from
   * acceptance).
   */
  private armDeliveryTimer(): void {
    this.deliveryTimer?.unsubscribe();
    this.deliveryTimer = undefined;
    const oldest = this.head;
    if (oldest === undefined) return;
    this.deliveryTimer = this.scheduler.schedule(() => {
      this.deliveryTimer = undefined;
      this.expireOverdue();
    }, Math.max(0, this.dueAt(oldest).at - this.scheduler.now()));
  }

  private expireOverdue(): void {
    const now = this.scheduler.now();
    for (let record = this.head; record !== undefined; ) {
      const due = this.dueAt(record);
      if (due.at > now) break;
      // onOverdue deletes the record: take its successor first.
      const next = record.outstandingNext as R | undefined;
      this.onOverdue(record, due.reason);
      record = next;
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
