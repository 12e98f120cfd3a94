/**
 * From the session's fetched batches to what downstream sees, batches$ and records$: stale records
 * (from before a seek, rewind or revoke that happened while a batch was being emitted) are dropped
 * here, at the last moment; emitted ones count for deliveredOffsets() and health$. With ackMode
 * 'onEmit' a record is acknowledged when the subscriber's next returns.
 *
 * Hand-written rather than mergeMap/filter/tap: this runs per record.
 */
import { Observable } from 'rxjs';
import type { ConsumerRecord } from './consumer-record.js';
import type { FetchedBatch } from './consumer-session.js';
import type { HealthTracker } from './consumer-health.js';
import { isLive } from './partition-state.js';

type EmittedCount = Pick<HealthTracker, 'recordsEmitted'>;

export function batches$(fetched$: Observable<FetchedBatch>, counts: EmittedCount, onEmit: boolean): Observable<ConsumerRecord[]> {
  return new Observable<ConsumerRecord[]>((subscriber) =>
    fetched$.subscribe({
      next: ({ state, epoch, records }) => {
        if (!isLive(state, epoch)) return;
        state.delivered = records[records.length - 1]!.offset + 1n;
        counts.recordsEmitted += records.length;
        subscriber.next(records);
        // ackMode 'onEmit': the subscriber is done with the batch when next returns.
        if (onEmit) records[records.length - 1]!.ack();
      },
      error: (error: unknown) => subscriber.error(error),
      complete: () => subscriber.complete(),
    }),
  );
}

export function records$(fetched$: Observable<FetchedBatch>, counts: EmittedCount, onEmit: boolean): Observable<ConsumerRecord> {
  return new Observable<ConsumerRecord>((subscriber) =>
    fetched$.subscribe({
      next: ({ state, epoch, records }) => {
        for (const record of records) {
          if (subscriber.closed || !isLive(state, epoch)) return;
          state.delivered = record.offset + 1n;
          counts.recordsEmitted++;
          subscriber.next(record);
          if (onEmit) record.ack();
        }
      },
      error: (error: unknown) => subscriber.error(error),
      complete: () => subscriber.complete(),
    }),
  );
}
