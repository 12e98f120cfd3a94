/**
 * `producer.sendAll$(records$)`: every record of a stream sent, its results in order per partition,
 * each with its correlation. Completes when the stream completed and every record has its outcome;
 * the first failure errors the stream and withdraws the records not yet handed to the broker.
 * Written without an inner subscription per record (as `mergeMap(send$)` would make), so bursts of
 * many thousand records cost the same per record as a few.
 */
import { Observable } from 'rxjs';
import type { DeliverySink, ProducerRecord, ProducerResult } from './producer-record.js';

/** The producer's intake: accept `record` (its outcome goes to `sink`); returns the withdrawal. */
export type SubmitToStream = <C>(record: ProducerRecord<C>, sink: DeliverySink<C>) => () => void;

export function sendStream<C>(records$: Observable<ProducerRecord<C>>, submit: SubmitToStream): Observable<ProducerResult<C>> {
  return new Observable<ProducerResult<C>>((subscriber) => {
    const withdrawals = new Set<() => void>();
    let sourceDone = false;
    const source = records$.subscribe({
      next: (record) => {
        let withdraw: (() => void) | undefined;
        let settled = false;
        withdraw = submit(record, {
          resolve: (result) => {
            settled = true;
            if (withdraw) withdrawals.delete(withdraw);
            subscriber.next(result);
            if (sourceDone && withdrawals.size === 0) subscriber.complete();
          },
          reject: (error) => {
            settled = true;
            if (withdraw) withdrawals.delete(withdraw);
            subscriber.error(error);
          },
        });
        if (!settled) withdrawals.add(withdraw);
      },
      error: (error: unknown) => subscriber.error(error),
      complete: () => {
        sourceDone = true;
        if (withdrawals.size === 0) subscriber.complete();
      },
    });
    return () => {
      source.unsubscribe();
      for (const withdraw of withdrawals) withdraw();
      withdrawals.clear();
    };
  });
}
