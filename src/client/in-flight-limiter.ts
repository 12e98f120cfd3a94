/**
 * The one in-flight bound (PipelinedClient's requests, the producer's batches): at most `limit`
 * Observables run at once, the rest wait in FIFO order (neither dropped nor failed) and start as
 * earlier ones finish.
 */
import { Observable, Subject, type Subscription, asyncScheduler, type SchedulerLike } from 'rxjs';
import { releaseThenForward } from './release-then-forward.js';

export interface LimiterStats {
  /** Running now. */
  active: number;
  /** Waiting for a slot. */
  queued: number;
  peakActive: number;
  peakQueued: number;
  /** Requests that had to wait for a slot, and their total / longest wait (scheduler ms). */
  waited: number;
  totalWaitMs: number;
  maxWaitMs: number;
}

interface QueuedRun {
  start(): void;
  fail(error: unknown): void;
  enqueuedAt: number;
  cancelled: boolean;
}

/**
 * Runs at most `limit` Observables at once; the rest wait in FIFO order and start as earlier ones
 * finish (complete, error or unsubscribe). Scheduler-agnostic except for the wait clock.
 */
export class InFlightLimiter {
  private active = 0;
  private queue: QueuedRun[] = [];
  private head = 0;
  private draining = false;
  private waiting = 0;
  private readonly counters = { peakActive: 0, peakQueued: 0, waited: 0, totalWaitMs: 0, maxWaitMs: 0 };
  private readonly changedSubject = new Subject<void>();
  /** Ticks when active/queued change. */
  readonly changed$: Observable<void> = this.changedSubject.asObservable();

  constructor(
    readonly limit: number,
    private readonly scheduler: SchedulerLike = asyncScheduler,
  ) {}

  /** Waiting for a slot now. */
  get queued(): number {
    return this.waiting;
  }

  stats(): LimiterStats {
    return { active: this.active, queued: this.queued, ...this.counters };
  }

  /** `source`, started once a slot is free. */
  run$<T>(source: Observable<T>): Observable<T> {
    return new Observable<T>((subscriber) => {
      let inner: Subscription | undefined;
      let holding = false;
      let entry: QueuedRun | undefined;
      const release = () => {
        if (!holding) return;
        holding = false;
        this.active--;
        this.changedSubject.next();
        this.drain();
      };
      const start = () => {
        holding = true;
        this.active++;
        if (this.active > this.counters.peakActive) this.counters.peakActive = this.active;
        this.changedSubject.next();
        inner = releaseThenForward(source, subscriber, release);
      };
      if (this.active < this.limit && this.waiting === 0) {
        start();
      } else {
        entry = {
          enqueuedAt: this.scheduler.now(),
          cancelled: false,
          start: () => {
            const waitMs = this.scheduler.now() - entry!.enqueuedAt;
            this.counters.waited++;
            this.counters.totalWaitMs += waitMs;
            if (waitMs > this.counters.maxWaitMs) this.counters.maxWaitMs = waitMs;
            entry = undefined;
            start();
          },
          fail: (error) => {
            entry = undefined;
            subscriber.error(error);
          },
        };
        this.queue.push(entry);
        this.waiting++;
        if (this.waiting > this.counters.peakQueued) this.counters.peakQueued = this.waiting;
        this.changedSubject.next();
      }
      return () => {
        if (entry !== undefined) {
          entry.cancelled = true;
          entry = undefined;
          this.waiting--;
          this.changedSubject.next();
        }
        inner?.unsubscribe();
        release();
      };
    });
  }

  /** Fail everything still waiting (it never started) with `error`. */
  rejectQueued(error: unknown): void {
    const waiting = this.queue.slice(this.head).filter((e) => !e.cancelled);
    this.queue = [];
    this.head = 0;
    this.waiting = 0;
    for (const entry of waiting) {
      entry.cancelled = true;
      entry.fail(error);
    }
    this.changedSubject.next();
  }

  complete(): void {
    this.changedSubject.complete();
  }

  /** Start waiting runs while slots are free; a loop, not recursion, so long queues can't overflow the stack. */
  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.active < this.limit && this.head < this.queue.length) {
        const next = this.queue[this.head]!;
        this.queue[this.head] = undefined as unknown as QueuedRun;
        this.head++;
        if (this.head > 1024 && this.head * 2 > this.queue.length) {
          this.queue = this.queue.slice(this.head);
          this.head = 0;
        }
        if (!next.cancelled) {
          next.cancelled = true; // taken: a later unsubscribe must not count it as waiting
          this.waiting--;
          next.start();
        }
      }
    } finally {
      this.draining = false;
    }
  }
}
