/**
 * What a record handed to a producer may hold, checked like options are: a field the producer does
 * not know is a `ConfigError` naming the closest known one (a typo such as `partiton` would
 * otherwise send the record to the key's partition); fields other clients carry but rivvend 0.0.22's
 * publish requests do not (`headers`, `timestamp`) are refused saying so, rather than dropped; and
 * a `null` value (Kafka's tombstone) is refused with what Rivven does instead. One check for the
 * Producer's and the TransactionalProducer's records.
 *
 * Pure: no I/O. On the hot path (every `send$`): one `for…in` over the record's own few keys.
 */
import type { Bytes } from '../client/client-types.js';
import { ConfigError } from '../errors.js';
import { closestName, describeValue } from '../settings-validation.js';

/** Fields of a `send$` record. */
export const PRODUCER_RECORD_FIELDS: readonly string[] = ['topic', 'value', 'key', 'partition', 'correlation'];
/** Fields of a record published in a transaction (no correlation: results come with the commit). */
export const TRANSACTIONAL_RECORD_FIELDS: readonly string[] = ['topic', 'value', 'key', 'partition'];

/** Fields other clients' records have that rivvend 0.0.22 cannot carry, and why. */
const NOT_CARRIED: Readonly<Record<string, string>> = {
  headers:
    "rivvend 0.0.22's publish requests carry no headers (PublishBatch holds key and value only), so they would be dropped; put what you need into the value (or the key)",
  timestamp:
    'rivvend 0.0.22 stamps every record with its own time when it stores it (publish requests carry no timestamp), so yours would be dropped; put it into the value if you need it',
};

/**
 * Refuse any field of `record` not in `known`. `where` names the record in the message
 * (`record`, `records[3]`).
 */
export function checkRecordFields(record: object, known: readonly string[], where: string): void {
  for (const field in record) {
    if (known.includes(field)) continue;
    if (!Object.prototype.hasOwnProperty.call(record, field)) continue;
    const reason = NOT_CARRIED[field];
    if (reason !== undefined) throw new ConfigError(`${where}.${field}`, `is not supported: ${reason}`);
    const guess = closestName(field, known);
    throw new ConfigError(
      `${where}.${field}`,
      `is not a record field${guess === undefined ? '' : `; did you mean '${guess}'?`} (a record has: ${known.join(', ')})`,
    );
  }
}

/**
 * The value as the wire carries it. `null`/`undefined` are refused: rivvend 0.0.22 has no null
 * values. Its compaction (rivven-core `storage/log_manager.rs`, `LogManager::compact`) removes a
 * key whose latest record has an *empty* value, so the tombstone is `value: ''` (or an empty Buffer).
 */
export function recordValue(value: Bytes | null | undefined, where: string): Buffer {
  if (value === null) {
    throw new ConfigError(
      `${where}.value`,
      "is null: rivvend 0.0.22 has no null values. To delete a key on a compacted topic send an empty value (value: '' or Buffer.alloc(0)): rivvend's compaction treats the latest empty value of a key as its tombstone",
    );
  }
  if (value === undefined) throw new ConfigError(`${where}.value`, 'is required (a Buffer, Uint8Array or string)');
  return toBuffer(value, `${where}.value`);
}

/** Keys and values as the wire carries them: strings as UTF-8; anything else is a ConfigError naming `option` and what it got. */
export function toBuffer(value: Bytes, option: string): Buffer {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (value instanceof Uint8Array) return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const hint =
    value !== null && typeof value === 'object'
      ? '; serialize it first (JSON.stringify(value), or a value serializer: docs/value-framing.md)'
      : typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean'
        ? '; convert it first (String(value))'
        : '';
  throw new ConfigError(option, `must be a Buffer, Uint8Array or string, got ${describeValue(value)}${hint}`);
}
