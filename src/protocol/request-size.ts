/**
 * How many bytes a publish request takes on the wire, before encoding it: what lets a producer
 * refuse a record that can never fit in a request (rivvend refuses frames over MAX_MESSAGE_SIZE and
 * closes the connection) and cut batches so that each request fits. Pure arithmetic over postcard's
 * layout (request-schema.ts).
 */
import { WIRE_HEADER_SIZE } from './frame.js';
import { varintSize } from './postcard-writer.js';

/**
 * One `BatchRecord` exactly: `key: Option<Bytes>` (a tag byte, then length and bytes when present),
 * `value: Bytes` (length and bytes).
 */
export function batchRecordWireSize(keyLength: number | undefined, valueLength: number): number {
  const key = keyLength === undefined ? 1 : 1 + varintSize(keyLength) + keyLength;
  return key + varintSize(valueLength) + valueLength;
}

/**
 * An upper bound of everything of a `PublishBatch`, `IdempotentPublishBatch` or
 * `TransactionalPublish` request body besides its records (format byte and correlation id, the
 * variant, the topic, `partition`, the record count, producer id, epoch and sequence, `leader_epoch`,
 * and a transactional id of up to 256 bytes when `transactionalIdBytes` is given): each varint at
 * its widest.
 */
export function publishRequestOverhead(topic: string, transactionalIdBytes = 0): number {
  const topicBytes = Buffer.byteLength(topic, 'utf8');
  const variant = 1;
  const name = (bytes: number) => varintSize(bytes) + bytes;
  const partition = 1 + 5;
  const recordCount = 3;
  const producer = 10 + 3 + 5;
  const leaderEpoch = 1 + 10;
  return WIRE_HEADER_SIZE + variant + name(topicBytes) + partition + recordCount + producer + leaderEpoch + (transactionalIdBytes > 0 ? name(transactionalIdBytes) : 0);
}
