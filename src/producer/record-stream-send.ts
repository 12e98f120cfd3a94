/**
 * `producer.sendAll$(records$)`: every record of a stream sent, its results in order per partition,
 * each with its correlation. Completes when the stream completed and every record has its outcome;
 * the first failure errors the stream and withdraws the records not yet handed to the broker.
 * Written without an inner subscription per record (as `mergeMap(send$)` would make), so bursts of
 * many thousand records cost the same per record as a few.
 */
import { Observable, type Subscriber } from 'rxjs';
import type { DeliverySink, ProducerRecord, ProducerResult } from './producer-record.js';

/** The producer's intake: accept `record` (its outcome goes to `sink`); returns the withdrawal. */
export type SubmitToStream = <C>(record: ProducerRecord<C>, sink: DeliverySink<C>) => () => void;

export function sendStream<C>(records$: Observable<ProducerRecord<C>>, submit: SubmitToStream): Observable<ProducerResult<C>> {
  return new Observable<ProducerResult<C>>((subscriber) => {
    const stream = new StreamState<C>(subscriber);
    const source = records$.subscribe({
      next: (record) => {
        const entry = new StreamEntry(stream);
        const withdraw = submit(record, entry);
        // Settled at once (refused): nothing to withdraw.
        if (!entry.settled) stream.track(entry, withdraw);
      },
      error: (error: unknown) => subscriber.error(error),
      complete: () => {
        stream.sourceDone = true;
        stream.completeIfDone();
      },
    });
    return () => {
      source.unsubscribe();
      stream.withdrawAll();
    };
  });
}

/**
 * The records of one `sendAll$` subscription without an outcome yet: a doubly linked list through
 * the entries, so that adding and removing cost no hashing and no allocation beyond the entry.
 */
class StreamState<C> {
  sourceDone = false;
  private head: StreamEntry<C> | undefined;
  private waiting = 0;

  constructor(readonly subscriber: Subscriber<ProducerResult<C>>) {}

  track(entry: StreamEntry<C>, withdraw: () => void): void {
    entry.withdraw = withdraw;
    entry.next = this.head;
    if (this.head !== undefined) this.head.prev = entry;
    this.head = entry;
    this.waiting++;
  }

  untrack(entry: StreamEntry<C>): void {
    if (entry.withdraw === undefined) return; // settled inside submit, never tracked
    entry.withdraw = undefined;
    if (entry.prev !== undefined) entry.prev.next = entry.next;
    else this.head = entry.next;
    if (entry.next !== undefined) entry.next.prev = entry.prev;
    entry.prev = entry.next = undefined;
    this.waiting--;
  }

  completeIfDone(): void {
    if (this.sourceDone && this.waiting === 0) this.subscriber.complete();
  }

  withdrawAll(): void {
    for (let entry = this.head; entry !== undefined; ) {
      const { next, withdraw } = entry;
      entry.withdraw = entry.prev = entry.next = undefined;
      withdraw?.();
      entry = next;
    }
    this.head = undefined;
    this.waiting = 0;
  }
}

/** One record of a `sendAll$` stream: where the producer delivers its outcome (one object per record, methods on the prototype). */
class StreamEntry<C> implements DeliverySink<C> {
  settled = false;
  withdraw: (() => void) | undefined = undefined;
  prev: StreamEntry<C> | undefined = undefined;
  next: StreamEntry<C> | undefined = undefined;

  constructor(private readonly stream: StreamState<C>) {}

  resolve(result: ProducerResult<C>): void {
    this.settled = true;
    this.stream.untrack(this);
    this.stream.subscriber.next(result);
    this.stream.completeIfDone();
  }

  reject(error: unknown): void {
    this.settled = true;
    this.stream.untrack(this);
    this.stream.subscriber.error(error);
  }
}
