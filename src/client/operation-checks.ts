/**
 * The argument checks and request builders behind the typed operations (operations.ts and the
 * classes it extends): each turns what a caller passed into a wire request or a ConfigError
 * naming the argument, before anything is encoded or sent. Kept apart so the operation classes
 * read as the list of operations.
 */
import { MAX_TIMER_MS } from '../settings-validation.js';
import type { ValueFraming } from '../protocol/value-decoder.js';
import type { RequestInput } from '../protocol/request-schema.js';
import type { ResponseOf, ResponseType } from '../protocol/response-schema.js';
import { ArgumentCheck } from './operation-input.js';
import type { Bytes, ConsumeOptions, ProducerIdentity, PublishRecord } from './client-types.js';

const ISOLATION: Record<string, number> = { read_uncommitted: 0, read_committed: 1 };
const ISOLATION_LEVELS = ['read_uncommitted', 'read_committed'] as const;
const VALUE_FRAMINGS: readonly ValueFraming[] = ['detect', 'rivven-core', 'raw'];
/** rivvend's HeartbeatResult `errorCode` asking the member to rejoin (Kafka's REBALANCE_IN_PROGRESS). */
export const REBALANCE_IN_PROGRESS_CODE = 27;
/** Default `maxDecodedBytes` of consume$. */
export const DEFAULT_MAX_DECODED_BYTES = 64 * 1024 * 1024;

const PUBLISH_RECORD_KEYS = ['value', 'key', 'partition', 'leaderEpoch'] as const;
const BATCH_OPTION_KEYS = ['partition', 'leaderEpoch'] as const;
const CONSUME_OPTION_KEYS = ['partition', 'offset', 'maxMessages', 'isolationLevel', 'maxWaitMs', 'requestTimeoutMs', 'valueFraming', 'maxDecodedBytes'] as const;
export const JOIN_OPTION_KEYS = ['sessionTimeoutMs', 'rebalanceTimeoutMs', 'subscriptions', 'protocolType'] as const;

export type Expected = ResponseType | readonly ResponseType[];
export type Matched<E extends Expected> = E extends ResponseType ? ResponseOf<E> : E extends readonly (infer T extends ResponseType)[] ? ResponseOf<T> : never;

export function toTimestamp(check: ArgumentCheck, value: bigint | number | Date, argument: string): bigint {
  if (typeof value === 'bigint') return check.i64(argument, value, 'milliseconds since the epoch (a bigint, an integer or a Date)');
  if (value instanceof Date) {
    const ms = value.getTime();
    if (Number.isNaN(ms)) check.fail(argument, 'a valid Date', value);
    return BigInt(ms);
  }
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  return check.fail(argument, 'milliseconds since the epoch (a bigint, an integer or a Date)', value);
}

/** An offset the caller may give as a bigint or a safe non-negative integer (commitOffset$). */
export function toOffset(check: ArgumentCheck, value: bigint | number, argument: string): bigint {
  if (typeof value === 'bigint') return check.u64(argument, value, 'an offset (a bigint ≥ 0n, or a safe integer ≥ 0)');
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  return check.fail(argument, 'an offset (a bigint ≥ 0n, or a safe integer ≥ 0)', value);
}

export function checkProducer(check: ArgumentCheck, producer: ProducerIdentity): ProducerIdentity {
  check.object('producer', producer);
  return {
    producerId: check.u64('producer.producerId', producer.producerId, 'a producer id (a bigint from initProducerId$)'),
    producerEpoch: check.u16('producer.producerEpoch', producer.producerEpoch),
  };
}

export function checkRecord(check: ArgumentCheck, record: PublishRecord, argument = 'record'): PublishRecord {
  check.object(argument, record);
  check.knownKeys(argument, record, PUBLISH_RECORD_KEYS);
  check.bytes(`${argument}.value`, record.value);
  check.optionalBytes(`${argument}.key`, record.key);
  check.optionalPartition(`${argument}.partition`, record.partition);
  check.optionalU64(`${argument}.leaderEpoch`, record.leaderEpoch);
  return record;
}

/** The fields one sequenced record (idempotent or transactional) carries, checked. */
export function sequencedRecord(check: ArgumentCheck, record: PublishRecord, producer: ProducerIdentity, sequence: number) {
  checkRecord(check, record);
  const p = checkProducer(check, producer);
  check.sequence('sequence', sequence);
  return {
    partition: record.partition,
    key: record.key,
    value: record.value,
    producerId: p.producerId,
    producerEpoch: p.producerEpoch,
    sequence,
    leaderEpoch: record.leaderEpoch,
  };
}

/** A group and one of its partitions (offset commits and reads). */
export function checkGroupPartition(check: ArgumentCheck, group: string, topic: string, partition: number): void {
  check.name('group', group);
  check.name('topic', topic);
  check.partition('partition', partition);
}

/** What every transaction request starts with: its id and the producer; the check goes on with the rest. */
export function checkTransaction(operation: string, txnId: string, producer: ProducerIdentity): { check: ArgumentCheck } & ProducerIdentity {
  const check = new ArgumentCheck(operation);
  check.name('txnId', txnId);
  return { check, ...checkProducer(check, producer) };
}

/** A group member in a generation (sync, heartbeat); the member id may be empty before its first join. */
export function checkMember(operation: string, groupId: string, generationId: number, memberId: string): ArgumentCheck {
  const check = new ArgumentCheck(operation);
  check.name('groupId', groupId);
  check.u32('generationId', generationId);
  check.name('memberId', memberId, { allowEmpty: true });
  return check;
}

/** A list of topic names, each checked as a name. */
export function checkNames(check: ArgumentCheck, argument: string, names: readonly string[]): void {
  check.array(argument, names).forEach((name, i) => check.name(`${argument}[${i}]`, name));
}

/** The checks of a batch publish (`operation` names it in errors); the check goes on with the operation's other arguments. */
export function checkBatch(operation: string, topic: string, records: readonly { key?: Bytes; value: Bytes }[], options: { partition?: number; leaderEpoch?: bigint }): ArgumentCheck {
  const check = new ArgumentCheck(operation);
  check.name('topic', topic);
  check.array('records', records, { min: 1 });
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    if (record === null || typeof record !== 'object') check.fail(`records[${i}]`, 'an object { value, key? }', record);
    check.bytes(`records[${i}].value`, record.value);
    check.optionalBytes(`records[${i}].key`, record.key);
  }
  check.object('options', options);
  check.knownKeys('options', options, BATCH_OPTION_KEYS);
  check.optionalPartition('options.partition', options.partition);
  check.optionalU64('options.leaderEpoch', options.leaderEpoch);
  return check;
}

export interface CheckedConsume {
  request: RequestInput;
  framing: ValueFraming;
  budgetBytes: number;
  timeoutMs: number | undefined;
}

export function checkConsume(topic: string, options: ConsumeOptions): CheckedConsume {
  const check = new ArgumentCheck('consume$');
  check.name('topic', topic);
  check.object('options', options);
  check.knownKeys('options', options, CONSUME_OPTION_KEYS);
  const partition = check.partition('options.partition', options.partition);
  const offset = check.u64('options.offset', options.offset, 'an offset (a bigint)');
  const maxMessages = check.u32('options.maxMessages', options.maxMessages, 1);
  const isolationLevel = check.optionalOneOf('options.isolationLevel', options.isolationLevel, ISOLATION_LEVELS);
  const maxWaitMs = check.optionalDurationMs('options.maxWaitMs', options.maxWaitMs, MAX_TIMER_MS);
  const requestTimeoutMs = check.optionalDurationMs('options.requestTimeoutMs', options.requestTimeoutMs, MAX_TIMER_MS);
  const framing = check.optionalOneOf('options.valueFraming', options.valueFraming, VALUE_FRAMINGS) ?? 'detect';
  const budgetBytes = options.maxDecodedBytes === undefined ? DEFAULT_MAX_DECODED_BYTES : check.integer('options.maxDecodedBytes', options.maxDecodedBytes, 1, 2 ** 32, 'a byte count (an integer)');
  return {
    request: {
      type: 'Consume',
      topic,
      partition,
      offset,
      maxMessages,
      isolationLevel: isolationLevel === undefined ? undefined : ISOLATION[isolationLevel],
      maxWaitMs: maxWaitMs === undefined ? undefined : BigInt(maxWaitMs),
    },
    framing,
    budgetBytes,
    // A long poll legitimately takes maxWaitMs: never time it out before the broker answers.
    timeoutMs: requestTimeoutMs ?? (maxWaitMs ? Math.min(maxWaitMs + 30_000, MAX_TIMER_MS) : undefined),
  };
}

