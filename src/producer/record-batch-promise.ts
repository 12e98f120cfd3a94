/**
 * `producer.sendBatch(records, { signal })`: records sent together as one Promise, for code that
 * does not use RxJS. Resolves with the results in the order given, or rejects with the first
 * failure (the others are still delivered; their outcomes are not reported). Aborting `signal`
 * withdraws the records not yet handed to the broker and rejects with a SendAbortedError that names
 * which were withdrawn (never stored) and which were already sent (they may be stored).
 */
import { ConfigError, SendAbortedError } from '../errors.js';
import type { DeliverySink, PendingRecord, ProducerRecord, ProducerResult } from './producer-record.js';

/** The producer's intake: accept `record` (its outcome goes to `sink`), tell who it became; returns the withdrawal. */
export type SubmitRecord = <C>(record: ProducerRecord<C>, sink: DeliverySink<C>, accepted: (entry: PendingRecord) => void) => () => void;

export function sendRecords<C>(records: readonly ProducerRecord<C>[], signal: AbortSignal | undefined, submit: SubmitRecord): Promise<ProducerResult<C>[]> {
  if (!Array.isArray(records)) return Promise.reject(new ConfigError('records', 'expected an array of records'));
  return new Promise<ProducerResult<C>[]>((resolve, reject) => {
    const results = new Array<ProducerResult<C>>(records.length);
    const entries: (PendingRecord | undefined)[] = new Array(records.length);
    const withdrawals: (() => void)[] = [];
    let left = records.length;
    let done = false;
    const finish = (error?: unknown) => {
      if (done) return;
      done = true;
      signal?.removeEventListener('abort', onAbort);
      if (error === undefined) resolve(results);
      else reject(error);
    };
    const onAbort = () => {
      if (done) return;
      const withdrawn: number[] = [];
      const inFlight: number[] = [];
      for (let i = 0; i < records.length; i++) {
        const entry = entries[i];
        // Not submitted yet (an already aborted signal) counts as withdrawn too.
        if (entry?.settled === true && entry.batched) continue;
        if (entry?.batched === true) inFlight.push(i);
        else if (entry === undefined || !entry.settled) withdrawn.push(i);
      }
      for (const withdraw of withdrawals) withdraw();
      finish(
        new SendAbortedError(
          `aborted: ${withdrawn.length} record(s) withdrawn before they were sent (not stored), ${inFlight.length} already sent (they may be stored)`,
          withdrawn,
          inFlight,
          { cause: signal?.reason },
        ),
      );
    };
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    records.forEach((record, i) => {
      if (done) return;
      withdrawals.push(
        submit(
          record,
          {
            resolve: (result) => {
              results[i] = result as ProducerResult<C>;
              if (--left === 0) finish();
            },
            reject: (error) => finish(error),
          },
          (entry) => (entries[i] = entry),
        ),
      );
    });
    if (records.length === 0) finish();
  });
}
