/**
 * A record's intake: the record and result shapes of `send$`, and `PendingRecord`, the validated
 * record the producer carries from acceptance to its outcome.
 */
import type { SchedulerLike } from 'rxjs';
import type { Bytes } from '../client/client-types.js';
import { ConfigError } from '../errors.js';
import type { ResolvedProducerConfig } from './producer-config.js';

export interface ProducerRecord<C = unknown> {
  topic: string;
  value: Bytes;
  key?: Bytes;
  /** Explicit partition; otherwise murmur2 of the key, or sticky for keyless records. */
  partition?: number;
  /** Carried through to the result untouched (Reactor Kafka's correlation metadata). */
  correlation?: C;
}

export interface ProducerResult<C = unknown> {
  topic: string;
  partition: number;
  offset: bigint;
  /** When the producer accepted the record (ms since the epoch); the broker stamps its own time. */
  timestamp: bigint;
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
export class PendingRecord {
  /** Not yet assigned (keyless/keyed records wait for the topic's partition count). */
  partition: number;
  settled = false;
  cancelled = false;
  batched = false;
  /** Bytes of bufferMemory held for this record. */
  reserved = false;

  constructor(
    readonly topic: string,
    readonly explicitPartition: boolean,
    partition: number,
    readonly key: Buffer | undefined,
    readonly value: Buffer,
    readonly size: number,
    /** When the producer accepted it (ms since the epoch). */
    readonly acceptedAt: number,
    /** Scheduler time by which the record must be acknowledged (deliveryTimeoutMs). */
    readonly deadline: number,
    readonly correlation: unknown,
    readonly resolve: (result: ProducerResult) => void,
    readonly reject: (error: unknown) => void,
  ) {
    this.partition = partition;
  }

  /** Withdrawn or settled: the accumulator skips it. */
  get dropped(): boolean {
    return this.cancelled || this.settled;
  }
}

/**
 * Validate `record` (a ConfigError naming the field otherwise) and wrap it for delivery, due
 * `deliveryTimeoutMs` from now on `scheduler`'s clock.
 */
export function createPendingRecord<C>(
  record: ProducerRecord<C>,
  sink: DeliverySink<C>,
  limits: Pick<ResolvedProducerConfig, 'bufferMemory' | 'deliveryTimeoutMs'>,
  scheduler: SchedulerLike,
): PendingRecord {
  if (typeof record?.topic !== 'string' || record.topic.length === 0) throw new ConfigError('record.topic', 'must be a non-empty string');
  if (record.value === undefined || record.value === null) throw new ConfigError('record.value', 'is required');
  const value = toBuffer(record.value, 'record.value');
  const key = record.key === undefined ? undefined : toBuffer(record.key, 'record.key');
  const explicit = record.partition !== undefined;
  if (explicit && (!Number.isInteger(record.partition) || record.partition! < 0)) {
    throw new ConfigError('record.partition', `must be a non-negative integer, got ${record.partition}`);
  }
  const size = value.length + (key?.length ?? 0) + RECORD_OVERHEAD;
  if (size > limits.bufferMemory) {
    throw new ConfigError('record', `of ${size} bytes is larger than bufferMemory (${limits.bufferMemory}); raise bufferMemory`);
  }
  return new PendingRecord(
    record.topic,
    explicit,
    record.partition ?? -1,
    key,
    value,
    size,
    Date.now(),
    scheduler.now() + limits.deliveryTimeoutMs,
    record.correlation,
    sink.resolve as (result: ProducerResult) => void,
    sink.reject,
  );
}

/** Keys and values as the wire carries them: strings as UTF-8; anything else is a ConfigError naming `option`. */
export function toBuffer(value: Bytes, option: string): Buffer {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (value instanceof Uint8Array) return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  throw new ConfigError(option, 'must be a Buffer, Uint8Array or string');
}
