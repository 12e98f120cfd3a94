/**
 * What `processConcurrently()` (process-concurrently.ts) takes and tells: its ordering modes and
 * options, the record shape it reads, the dead-letter settings, the events of a failing record,
 * and the error of a record that failed every attempt. Types and one error class: no behaviour.
 */
import type { SchedulerLike } from 'rxjs';
import type { RetryPolicy } from '../connection-settings.js';
import type { ConsumerRecord, ReceiverOffset } from '../consumer/consumer-record.js';
import { RivvenError } from '../errors.js';
import type { Producer } from '../producer/producer.js';
import type { ProducerResult } from '../producer/producer-record.js';

/** Which records `processConcurrently` keeps in order: same key, same partition, or none. */
export type ProcessingOrder = 'partition' | 'key' | 'unordered';

/** What the operator reads of a record (a ConsumerRecord fits). */
export type ConcurrentRecord = Pick<ConsumerRecord, 'topic' | 'partition' | 'offset' | 'key' | 'value' | 'ack'> & {
  /** The record's timestamp (ms since the epoch), copied into a dead letter when present. */
  readonly timestamp?: bigint;
  /**
   * The record's offset handle, when it has one: while its dead-letter produce fails, the operator
   * tells the consumer why the record cannot be acknowledged (`holdBecause`: the consumer's
   * health$ lists it in `held`).
   */
  readonly receiverOffset?: Pick<ReceiverOffset, 'holdBecause'>;
};

/** Where `processConcurrently` sends records that failed every attempt. */
export interface DeadLetterOptions<T extends ConcurrentRecord = ConcurrentRecord> {
  /** Where dead letters are sent (its `send$`). */
  producer: Pick<Producer, 'send$'>;
  /** The dead-letter topic, or a function of the failed record (e.g. `` r => `${r.topic}.dlq` ``). */
  topic: string | ((record: T) => string);
  /**
   * Backoff between dead-letter produce attempts. Default: without limit (`maxAttempts: Infinity`),
   * 100 ms doubling to 30 s: the partition waits rather than lose the record. A finite maxAttempts
   * makes the stream fail with a ProcessingFailedError when it runs out.
   */
  retry?: RetryPolicy;
}

/** Options of `processConcurrently`. */
export interface ProcessConcurrentlyOptions<T extends ConcurrentRecord = ConcurrentRecord> {
  /** Which records keep their order: `'key'` (default; keyless records unordered), `'partition'`, `'unordered'`. */
  ordering?: ProcessingOrder;
  /** Handlers running at once, over all partitions (retry waits included). Default 16. */
  concurrency?: number;
  /**
   * Per partition, at most this many records running or finished past the committable offset;
   * later ones wait unstarted. Default: no limit of the operator's own — the consumer's
   * `maxPollRecords` credit is the window (see the module comment).
   */
  maxDeferredRecords?: number;
  /** Per-record retry of a failed handler. Default `{ maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 10_000 }`. */
  retry?: RetryPolicy;
  /** Which handler failures are retried. Default: all but rivven-rx errors that say retrying will not help. */
  retriable?: (error: unknown, record: T) => boolean;
  /** Send records that failed every attempt here, then acknowledge them. Default: none (the stream fails). */
  deadLetter?: DeadLetterOptions<T>;
  /** Retries, dead letters, dead-letter produce failures (the partition waits), as they happen. */
  onEvent?: (event: ProcessingEvent<T>) => void;
  /** For the backoff timers (tests: a TestScheduler). Default asyncScheduler. */
  scheduler?: SchedulerLike;
}

/** What happens to a failing record, in order. */
export type ProcessingEvent<T extends ConcurrentRecord = ConcurrentRecord> =
  /** The handler failed; it runs again after `delayMs`. */
  | {
      /** The handler failed and will run again. */
      type: 'retrying';
      /** The record. */
      record: T;
      /** The attempt that failed (1 for the first). */
      attempt: number;
      /** How long until the next attempt, ms. */
      delayMs: number;
      /** What the handler failed with. */
      error: unknown;
    }
  /** Every attempt failed: the record was produced to the dead-letter topic and acknowledged. */
  | {
      /** The record was dead-lettered and acknowledged. */
      type: 'deadLettered';
      /** The record. */
      record: T;
      /** Handler attempts made. */
      attempts: number;
      /** What the last attempt failed with. */
      error: unknown;
      /** Where the dead letter was stored. */
      deadLetter: ProducerResult;
    }
  /**
   * Producing the dead letter failed: the record (and its partition's commits) waits `delayMs` and
   * tries again. The record is held meanwhile (`receiverOffset.holdBecause('waiting on the
   * dead-letter topic <topic>', error)`): the consumer's health$ lists it in `held` until it is
   * dead-lettered and acknowledged.
   */
  | {
      /** Producing the dead letter failed; it is tried again. */
      type: 'deadLetterFailed';
      /** The record. */
      record: T;
      /** Dead-letter produce attempts that failed so far. */
      failures: number;
      /** How long until the next produce attempt, ms. */
      delayMs: number;
      /** What the produce failed with. */
      error: unknown;
    };

/** A record failed every attempt and could not be dead-lettered (or no dead-letter topic is set). */
export class ProcessingFailedError extends RivvenError {
  readonly code = 'PROCESSING_FAILED' as const;
  readonly retriable: boolean;
  /** The record's topic. */
  readonly topic: string;
  /** The record's partition. */
  readonly partition: number;
  /** The record's offset. */
  readonly offset: bigint;
  /** Handler attempts made. */
  readonly attempts: number;

  constructor(record: ConcurrentRecord, attempts: number, cause: unknown, deadLetterCause?: unknown) {
    const reason = (e: unknown): string => (e instanceof Error ? e.message : String(e));
    super(
      `processing ${record.topic}/${record.partition} at offset ${record.offset} failed after ${attempts} attempt(s): ${reason(cause)}` +
        (deadLetterCause === undefined
          ? '; no dead-letter topic is set, so the record stays unacknowledged and is processed again after re-subscribing'
          : `; producing it to the dead-letter topic failed too (${reason(deadLetterCause)}), so it stays unacknowledged`),
      { cause },
    );
    this.retriable = !(cause instanceof RivvenError) || cause.retriable;
    this.topic = record.topic;
    this.partition = record.partition;
    this.offset = record.offset;
    this.attempts = attempts;
  }
}
