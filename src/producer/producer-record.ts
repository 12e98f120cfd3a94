/**
 * A record's intake: the record and result shapes of `send$`, and `PendingRecord`, the validated
 * record the producer carries from acceptance to its outcome.
 */
import type { SchedulerLike } from 'rxjs';
import type { Bytes } from '../client/client-types.js';
import { ConfigError, MessageTooLargeError } from '../errors.js';
import { batchRecordWireSize, publishRequestOverhead } from '../protocol/request-size.js';
import type { ResolvedProducerConfig } from './producer-config.js';
import type { OutstandingEntry } from './outstanding-records.js';
import { PRODUCER_RECORD_FIELDS, checkRecordFields, recordValue, toBuffer } from './record-check.js';

/** A record to send, with optional correlation metadata carried to its result. */
export interface ProducerRecord<C = unknown> {
  /** The topic to send to. */
  topic: string;
  /** The record's value (a string is encoded as UTF-8). */
  value: Bytes;
  /** The record's key; omitted, the record has none (and is partitioned sticky). */
  key?: Bytes;
  /** Explicit partition; otherwise murmur2 of the key, or sticky for keyless records. */
  partition?: number;
  /** Carried through to the result untouched (Reactor Kafka's correlation metadata). */
  correlation?: C;
}

/** Where a sent record was stored. */
export interface ProducerResult<C = unknown> {
  /** The record's topic. */
  topic: string;
  /** The partition it was written to. */
  partition: number;
  /** Its offset in that partition. */
  offset: bigint;
  /** When the producer accepted the record (ms since the epoch); the broker stamps its own time. */
  timestamp: bigint;
  /** The record's `correlation`, untouched. */
  correlation: C | undefined;
}

/** Where one record's outcome goes. */
export interface DeliverySink<C> {
  resolve(result: ProducerResult<C>): void;
  reject(error: unknown): void;
}

/** Per-record framing overhead counted against bufferMemory and batchSize. */
const RECORD_OVERHEAD = 16;

/** A record from acceptance to outcome. A class, so the hot path allocates one shaped object. */
export class PendingRecord implements OutstandingEntry {
  /** Not yet assigned (keyless/keyed records wait for the topic's partition count). */
  partition: number;
  settled = false;
  cancelled = false;
  batched = false;
  /** Bytes of bufferMemory held for this record. */
  reserved = false;
  /** Links of the producer's list of records without an outcome (outstanding-records.ts). */
  outstandingPrev: OutstandingEntry | undefined = undefined;
  outstandingNext: OutstandingEntry | undefined = undefined;
  outstandingListed = false;

  constructor(
    readonly topic: string,
    readonly explicitPartition: boolean,
    partition: number,
    readonly key: Buffer | undefined,
    readonly value: Buffer,
    readonly size: number,
    /** When the producer accepted it (ms since the epoch). */
    readonly acceptedAt: number,
    /** Scheduler time when the producer accepted it. */
    readonly acceptedTick: number,
    /** Scheduler time by which the record must be acknowledged (deliveryTimeoutMs). */
    readonly deadline: number,
    readonly correlation: unknown,
    /** Where its outcome goes (called as methods: a sink may keep them on its prototype). */
    readonly sink: DeliverySink<unknown>,
  ) {
    this.partition = partition;
  }

  /** Withdrawn or settled: the accumulator skips it. */
  get dropped(): boolean {
    return this.cancelled || this.settled;
  }
}

/**
 * Validate `record` (a ConfigError naming the field otherwise; a MessageTooLargeError when it
 * cannot fit in one request) and wrap it for delivery, due `deliveryTimeoutMs` from now on
 * `scheduler`'s clock.
 */
export function createPendingRecord<C>(
  record: ProducerRecord<C>,
  sink: DeliverySink<C>,
  limits: Pick<ResolvedProducerConfig, 'bufferMemory' | 'deliveryTimeoutMs' | 'maxRequestSize' | 'compressionType'>,
  scheduler: SchedulerLike,
): PendingRecord {
  if (record === null || typeof record !== 'object') {
    throw new ConfigError('record', `expected a record object { topic, value, key?, partition?, correlation? }, got ${record === null ? 'null' : typeof record}`);
  }
  checkRecordFields(record, PRODUCER_RECORD_FIELDS, 'record');
  if (typeof record.topic !== 'string' || record.topic.length === 0) throw new ConfigError('record.topic', 'must be a non-empty string');
  const value = recordValue(record.value, 'record');
  const key = record.key === undefined ? undefined : toBuffer(record.key, 'record.key');
  const explicit = record.partition !== undefined;
  if (explicit && (!Number.isInteger(record.partition) || record.partition! < 0)) {
    throw new ConfigError('record.partition', `must be a non-negative integer, got ${record.partition}`);
  }
  const size = value.length + (key?.length ?? 0) + RECORD_OVERHEAD;
  // Uncompressed, the record's size on the wire is known now; compressed, only once its value is
  // (batch-dispatch.ts checks it there).
  if (limits.compressionType === 'none') checkFitsOneRequest(record.topic, key?.length, value.length, limits.maxRequestSize);
  if (size > limits.bufferMemory) {
    throw new ConfigError('record', `of ${size} bytes is larger than bufferMemory (${limits.bufferMemory}); raise bufferMemory`);
  }
  const now = scheduler.now();
  return new PendingRecord(
    record.topic,
    explicit,
    record.partition ?? -1,
    key,
    value,
    size,
    Date.now(),
    now,
    now + limits.deliveryTimeoutMs,
    record.correlation,
    sink as DeliverySink<unknown>,
  );
}

/**
 * Throw a MessageTooLargeError when a request carrying this one record (its key and its value as
 * sent, i.e. after compression) would be larger than `maxRequestSize`.
 */
export function checkFitsOneRequest(topic: string, keyLength: number | undefined, valueLength: number, maxRequestSize: number): void {
  const wire = publishRequestOverhead(topic) + batchRecordWireSize(keyLength, valueLength);
  if (wire > maxRequestSize) throw recordTooLarge(topic, keyLength, valueLength, wire, maxRequestSize);
}

/** The MessageTooLargeError of a record whose request alone would take `wire` bytes. */
export function recordTooLarge(topic: string, keyLength: number | undefined, valueLength: number, wire: number, maxRequestSize: number): MessageTooLargeError {
  return new MessageTooLargeError(
    `a record for topic '${topic}' of ${valueLength} value bytes${keyLength === undefined ? '' : ` and ${keyLength} key bytes`} takes ${wire} bytes in a request, ` +
      `over maxRequestSize (${maxRequestSize} bytes; rivvend refuses requests over 10 MiB): split the value, or compress it (compressionType)`,
    wire,
    maxRequestSize,
  );
}
