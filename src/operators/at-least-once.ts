/**
 * The operators of an at-least-once pipeline: records are committed only after they were
 * processed, so a crash before a commit processes them again on restart. transactional.ts is the
 * exactly-once counterpart (outputs and the inputs' offsets committed in one transaction).
 *
 * - `produceTo(producer)`: send every record of a stream through a Producer and emit each result
 *   (with the record's correlation value) — in order within each partition.
 *
 *     records$.pipe(produceTo(producer))
 *
 * - `commitOffsets()`: acknowledge each processed record and commit in batches — when
 *   `maxBatchSize` records have passed, or every `maxIntervalMs`, whichever comes first (as
 *   Alpakka's `Committer.flow`). Emits one result per commit, after the broker has accepted it.
 *
 *     consumer.records$.pipe(concatMap(process), commitOffsets({ maxBatchSize: 500, maxIntervalMs: 1000 }))
 */
import { bufferTime, concatMap, filter, map, tap, asyncScheduler, type OperatorFunction, type SchedulerLike } from 'rxjs';
import type { CommittedOffsets, ReceiverOffset } from '../consumer/consumer-record.js';
import { ConfigError } from '../errors.js';
import type { Producer } from '../producer/producer.js';
import type { ProducerRecord, ProducerResult } from '../producer/producer-record.js';

/** Every record of the stream sent through `producer`; each result emitted, in order per partition. */
export function produceTo<C>(producer: Producer): OperatorFunction<ProducerRecord<C>, ProducerResult<C>> {
  return (records$) => producer.sendAll$(records$);
}

// ---- commitOffsets ---------------------------------------------------------------------------------

/** Options of `commitOffsets()`. */
export interface CommitOffsetsOptions {
  /** Commit after this many records. Default 1,000. */
  maxBatchSize?: number;
  /** Commit at least this often while records flow (ms). Default 5,000. */
  maxIntervalMs?: number;
  /** Where the interval timer runs (virtual time in tests). Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

/** One commit of `commitOffsets()`: the records it covers and what the broker accepted. */
export interface CommitBatch<T> {
  /** The records this commit covers, in order. */
  records: T[];
  /** The offsets written to the group. */
  committed: CommittedOffsets;
}

/**
 * Acknowledge each record and commit in batches — after `maxBatchSize` records or every
 * `maxIntervalMs`, whichever comes first; emits one `CommitBatch` per commit, once the broker has
 * accepted it. Throws ConfigError for a size or interval that is not a positive integer.
 */
export function commitOffsets<T extends {
  /** The record's offset handle (a `ConsumerRecord` has one). */
  receiverOffset: ReceiverOffset;
}>(options: CommitOffsetsOptions = {}): OperatorFunction<T, CommitBatch<T>> {
  const maxBatchSize = options.maxBatchSize ?? 1_000;
  const maxIntervalMs = options.maxIntervalMs ?? 5_000;
  if (!Number.isSafeInteger(maxBatchSize) || maxBatchSize <= 0) throw new ConfigError('maxBatchSize', `expected a positive integer, got ${maxBatchSize}`);
  if (!Number.isSafeInteger(maxIntervalMs) || maxIntervalMs <= 0) throw new ConfigError('maxIntervalMs', `expected a positive integer, got ${maxIntervalMs}`);
  const scheduler = options.scheduler ?? asyncScheduler;
  return (source) =>
    source.pipe(
      tap((record) => record.receiverOffset.acknowledge()),
      bufferTime(maxIntervalMs, null, maxBatchSize, scheduler),
      filter((records) => records.length > 0),
      // One commit covers everything acknowledged so far; commits never overlap.
      concatMap((records) => records[records.length - 1]!.receiverOffset.commit$().pipe(map((committed) => ({ records, committed })))),
    );
}
