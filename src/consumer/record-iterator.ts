/**
 * `for await (const record of consumer)`: the consumer's records as an async iterator, with the
 * rules of `records$` — the same fetch credit (a partition holds at most `maxPollRecords` records
 * emitted and not acknowledged, so the records waiting here are bounded by it), the same
 * acknowledgement: `record.ack()` in ackMode 'manual'; in 'onEmit' a record counts as acknowledged
 * when the loop asks for the next one (its body finished), as when a subscriber's next returns.
 *
 * A record is emitted (counted, and part of `deliveredOffsets()`) when the loop receives it, not when
 * it is fetched: records fetched but not yet reached are never committed. Stale records (a seek,
 * rewind or revoke happened meanwhile) are skipped at that moment too.
 *
 * Leaving the loop (break, return, a throw) or aborting `signal` stops fetching, commits what was
 * acknowledged and, for a group member, leaves the group: the consumer is closed. The record the
 * loop was in when it left is not acknowledged by leaving (at-least-once: the next owner gets it).
 */
import type { Observable, Subscription } from 'rxjs';
import { ConfigError } from '../errors.js';
import type { ConsumerRecord } from './consumer-record.js';
import type { FetchedBatch } from './consumer-session.js';
import type { HealthTracker } from './consumer-health.js';
import { isLive } from './partition-state.js';

/** Options of `consumer.iterate()`. */
export interface IterateOptions {
  /** Aborting ends the loop (the pending `next()` resolves `done`) and closes the consumer. */
  signal?: AbortSignal;
}

interface Waiting {
  resolve(result: IteratorResult<ConsumerRecord>): void;
  reject(error: unknown): void;
}

export function iterateRecords(
  fetched$: Observable<FetchedBatch>,
  counts: Pick<HealthTracker, 'recordsEmitted'>,
  onEmit: boolean,
  close: () => Promise<void>,
  options: IterateOptions = {},
): AsyncIterableIterator<ConsumerRecord> {
  const queue: FetchedBatch[] = [];
  /** Index of the next record of queue[0]. */
  let at = 0;
  let waiting: Waiting | undefined;
  let failure: { error: unknown } | undefined;
  let ended = false;
  let finishing: Promise<void> | undefined;
  let last: ConsumerRecord | undefined;
  let subscription: Subscription | undefined;

  const finish = (): Promise<void> => {
    if (finishing) return finishing;
    ended = true;
    options.signal?.removeEventListener('abort', onAbort);
    subscription?.unsubscribe();
    queue.length = 0;
    finishing = close();
    // A loop waiting for a record ends once the consumer is closed (committed, left the group).
    const pending = waiting;
    waiting = undefined;
    if (pending !== undefined) finishing.then(() => pending.resolve({ done: true, value: undefined }), (error: unknown) => pending.reject(error));
    return finishing;
  };
  const onAbort = () => void finish().catch(() => undefined);

  /** The next live record of the queue, emitted now; undefined when the queue is empty. */
  const take = (): ConsumerRecord | undefined => {
    while (queue.length > 0) {
      const batch = queue[0]!;
      if (at >= batch.records.length || !isLive(batch.state, batch.epoch)) {
        queue.shift();
        at = 0;
        continue;
      }
      const record = batch.records[at++]!;
      batch.state.delivered = record.offset + 1n;
      counts.recordsEmitted++;
      return record;
    }
    return undefined;
  };

  const start = () => {
    subscription = fetched$.subscribe({
      next: (batch) => {
        queue.push(batch);
        if (waiting === undefined) return;
        const record = take();
        if (record === undefined) return;
        const pending = waiting;
        waiting = undefined;
        last = record;
        pending.resolve({ done: false, value: record });
      },
      error: (error: unknown) => {
        failure = { error };
        const pending = waiting;
        waiting = undefined;
        pending?.reject(error);
      },
      complete: () => {
        ended = true;
        const pending = waiting;
        waiting = undefined;
        pending?.resolve({ done: true, value: undefined });
      },
    });
  };

  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });

  const iterator: AsyncIterableIterator<ConsumerRecord> = {
    next(): Promise<IteratorResult<ConsumerRecord>> {
      // ackMode 'onEmit': asking for the next record means the loop body finished the last one.
      if (onEmit && last !== undefined) last.ack();
      last = undefined;
      if (failure !== undefined) return Promise.reject(failure.error);
      if (ended) return (finishing ?? Promise.resolve()).then(() => ({ done: true, value: undefined }));
      if (subscription === undefined) start();
      const record = take();
      if (record !== undefined) {
        last = record;
        return Promise.resolve({ done: false, value: record });
      }
      if (waiting !== undefined) return Promise.reject(new ConfigError('iterate', 'next() was called again before the previous next() resolved; await each record'));
      return new Promise((resolve, reject) => (waiting = { resolve, reject }));
    },
    async return(): Promise<IteratorResult<ConsumerRecord>> {
      last = undefined;
      await finish();
      return { done: true, value: undefined };
    },
    async throw(error?: unknown): Promise<IteratorResult<ConsumerRecord>> {
      last = undefined;
      await finish();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
