/**
 * The data operations over a `BrokerExchange`: ping, publish (one record or a batch), consume, and
 * a partition's offsets (bounds, by timestamp) — with the checks of what they take (a record, a
 * batch, consume options), which the idempotent and transactional publishes share. `BrokerOperations`
 * puts them on the clients; the user-facing documentation is there.
 */
import { Observable, defer, mergeMap } from 'rxjs';
import { ConfigError } from '../errors.js';
import type { RequestInput } from '../protocol/request-schema.js';
import { decodeValues } from '../protocol/value-decoder.js';
import type { ValueFraming } from '../protocol/value-framing.js';
import { MAX_TIMER_MS } from '../settings-validation.js';
import { ArgumentCheck } from './argument-checks.js';
import { type BrokerExchange, call$ } from './broker-exchange.js';
import type { BatchMetadata, Bytes, ConsumeOptions, ConsumedRecord, OffsetBounds, PublishRecord, RecordMetadata } from './client-types.js';

/** Default `maxDecodedBytes` of consume$. */
export const DEFAULT_MAX_DECODED_BYTES = 64 * 1024 * 1024;

const ISOLATION: Record<string, number> = { read_uncommitted: 0, read_committed: 1 };
const ISOLATION_LEVELS = ['read_uncommitted', 'read_committed'] as const;
const VALUE_FRAMINGS: readonly ValueFraming[] = ['detect', 'rivven-core', 'raw'];
const PUBLISH_RECORD_KEYS = ['value', 'key', 'partition', 'leaderEpoch'] as const;
const BATCH_OPTION_KEYS = ['partition', 'leaderEpoch'] as const;
const CONSUME_OPTION_KEYS = ['partition', 'offset', 'maxMessages', 'isolationLevel', 'maxWaitMs', 'requestTimeoutMs', 'valueFraming', 'maxDecodedBytes'] as const;

export type BatchOptions = { partition?: number; leaderEpoch?: bigint };

export function ping$(exchange: BrokerExchange): Observable<number> {
  return new Observable<number>((subscriber) => {
    const started = performance.now();
    return call$(exchange, () => ({ type: 'Ping' }), 'Pong', () => performance.now() - started).subscribe(subscriber);
  });
}

export function publish$(exchange: BrokerExchange, topic: string, record: PublishRecord): Observable<RecordMetadata> {
  return call$(
    exchange,
    () => {
      const check = new ArgumentCheck('publish$');
      check.name('topic', topic);
      checkRecord(check, record);
      return { type: 'Publish', topic, partition: record.partition, key: record.key, value: record.value, leaderEpoch: record.leaderEpoch };
    },
    'Published',
    (r) => ({ topic, partition: r.partition, offset: r.offset }),
  );
}

export function publishBatch$(exchange: BrokerExchange, topic: string, records: readonly { key?: Bytes; value: Bytes }[], options: BatchOptions): Observable<BatchMetadata> {
  return call$(
    exchange,
    () => {
      checkBatch('publishBatch$', topic, records, options);
      return { type: 'PublishBatch', topic, partition: options.partition, records, leaderEpoch: options.leaderEpoch };
    },
    'PublishedBatch',
    (r) => ({ topic, partition: r.partition, baseOffset: r.baseOffset, recordCount: r.recordCount }),
  );
}

/** Fetch, then decode the values (value-decoder.ts, as `Consumer` does) within `maxDecodedBytes`. */
export function consume$(exchange: BrokerExchange, topic: string, options: ConsumeOptions): Observable<ConsumedRecord[]> {
  return defer(() => {
    const consume = checkConsume(topic, options);
    return call$(exchange, () => consume.request, 'Messages', (r) => r.messages, { timeoutMs: consume.timeoutMs }).pipe(
      mergeMap(async (messages): Promise<ConsumedRecord[]> => {
        const toRecord = (m: (typeof messages)[number], value: Buffer): ConsumedRecord => ({
          topic,
          partition: m.partition,
          offset: m.offset,
          key: m.key,
          value,
          timestamp: m.timestamp,
          headers: m.headers,
        });
        if (consume.framing === 'raw' || messages.length === 0) return messages.map((m) => toRecord(m, m.value));
        const { decoded, nextNeeds } = await decodeValues(
          messages.map((m) => m.value),
          { framing: consume.framing, budgetBytes: consume.budgetBytes },
        );
        if (decoded.length === 0) {
          const first = messages[0]!;
          throw new ConfigError(
            'options.maxDecodedBytes',
            `consume$: the value at ${topic}/${first.partition}@${first.offset} decodes to ${nextNeeds ?? 'more than'} bytes, ` +
              `more than maxDecodedBytes (${consume.budgetBytes}); raise maxDecodedBytes, or read it as stored with valueFraming: 'raw'`,
          );
        }
        return decoded.map((value, i) => toRecord(messages[i]!, value));
      }),
    );
  });
}

export function getOffsetBounds$(exchange: BrokerExchange, topic: string, partition: number): Observable<OffsetBounds> {
  return call$(
    exchange,
    () => {
      const check = new ArgumentCheck('getOffsetBounds$');
      check.name('topic', topic);
      check.partition('partition', partition);
      return { type: 'GetOffsetBounds', topic, partition };
    },
    'OffsetBounds',
    (r) => ({ earliest: r.earliest, latest: r.latest }),
  );
}

export function getOffsetForTimestamp$(exchange: BrokerExchange, topic: string, partition: number, timestamp: bigint | number | Date): Observable<bigint | undefined> {
  return call$(
    exchange,
    () => {
      const check = new ArgumentCheck('getOffsetForTimestamp$');
      check.name('topic', topic);
      check.partition('partition', partition);
      return { type: 'GetOffsetForTimestamp', topic, partition, timestampMs: toTimestamp(check, timestamp, 'timestamp') };
    },
    'OffsetForTimestamp',
    (r) => r.offset,
  );
}

// ---- the checks of what these operations take -------------------------------------------------

/** One record to publish (publish$, and the idempotent and transactional publishes). */
export function checkRecord(check: ArgumentCheck, record: PublishRecord, argument = 'record'): PublishRecord {
  check.object(argument, record);
  check.knownKeys(argument, record, PUBLISH_RECORD_KEYS);
  check.bytes(`${argument}.value`, record.value);
  check.optionalBytes(`${argument}.key`, record.key);
  check.optionalPartition(`${argument}.partition`, record.partition);
  check.optionalU64(`${argument}.leaderEpoch`, record.leaderEpoch);
  return record;
}

/** A batch publish (`operation` names it in errors); the check goes on with the operation's other arguments. */
export function checkBatch(operation: string, topic: string, records: readonly { key?: Bytes; value: Bytes }[], options: BatchOptions): ArgumentCheck {
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

function toTimestamp(check: ArgumentCheck, value: bigint | number | Date, argument: string): bigint {
  if (typeof value === 'bigint') return check.i64(argument, value, 'milliseconds since the epoch (a bigint, an integer or a Date)');
  if (value instanceof Date) {
    const ms = value.getTime();
    if (Number.isNaN(ms)) check.fail(argument, 'a valid Date', value);
    return BigInt(ms);
  }
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  return check.fail(argument, 'milliseconds since the epoch (a bigint, an integer or a Date)', value);
}

interface CheckedConsume {
  request: RequestInput;
  framing: ValueFraming;
  budgetBytes: number;
  timeoutMs: number | undefined;
}

function checkConsume(topic: string, options: ConsumeOptions): CheckedConsume {
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
