/**
 * The open transaction as the client holds it: the records published into it (checked, as the
 * wire carries them, at most `bufferMemory` bytes of keys and values) and the consumed offsets sent
 * with it, in order, until commit. Nothing of an open transaction is on the broker
 * (transactional-producer.ts says why). No I/O.
 */
import type { Bytes } from '../client/client-types.js';
import { ConfigError } from '../errors.js';
import { MAX_MESSAGE_SIZE } from '../protocol/frame.js';
import { checkFitsOneRequest } from './producer-record.js';
import { TRANSACTIONAL_RECORD_FIELDS, checkRecordFields, recordValue, toBuffer } from './record-check.js';

/** A transactional id's bytes on the wire at most (256-byte name and its length). */
const TRANSACTIONAL_ID_ROOM = 258;

/** A record sent inside a transaction. */
export interface TransactionalRecord {
  /** The topic to send to. */
  topic: string;
  /** The record's value (a string is encoded as UTF-8). */
  value: Bytes;
  /** The record's key; omitted, the record has none. */
  key?: Bytes;
  /** Explicit partition; otherwise chosen by the producer (murmur2 of the key when there is one). */
  partition?: number;
}

/** A published record as the transaction holds it until commit. */
export interface HeldRecord {
  readonly topic: string;
  readonly key: Buffer | undefined;
  readonly value: Buffer;
  readonly partition: number | undefined;
}

/** Consumed offsets to commit with a transaction: `[topic, partition, nextOffset]` (the next offset to read, i.e. last processed + 1). */
export type OffsetsToCommit = readonly (readonly [topic: string, partition: number, nextOffset: bigint])[];

export interface GroupOffsets {
  groupId: string;
  offsets: OffsetsToCommit;
}

export class TransactionState {
  private isOpen = false;
  private buffered: HeldRecord[] = [];
  private bufferedBytes = 0;
  private groupOffsets: GroupOffsets[] = [];

  get open(): boolean {
    return this.isOpen;
  }

  /** Records published into the open transaction, in publish order. */
  get records(): readonly HeldRecord[] {
    return this.buffered;
  }

  /** Consumed offsets sent with the open transaction, in the order they were sent. */
  get offsets(): readonly GroupOffsets[] {
    return this.groupOffsets;
  }

  began(): void {
    this.isOpen = true;
    this.buffered = [];
    this.bufferedBytes = 0;
    this.groupOffsets = [];
  }

  /**
   * Hold `records` (checked and converted first). All or none: a record that is not valid, or
   * that would take the transaction past `bufferMemory` bytes, refuses the whole call.
   */
  add(records: readonly TransactionalRecord[], bufferMemory: number): void {
    const held = records.map(heldRecord);
    const bytes = held.reduce((sum, r) => sum + r.value.length + (r.key?.length ?? 0), 0);
    if (this.bufferedBytes + bytes > bufferMemory) {
      throw new ConfigError(
        'bufferMemory',
        `the transaction would hold ${this.bufferedBytes + bytes} bytes of keys and values, more than bufferMemory (${bufferMemory}); ` +
          'its records stay in the client until the commit: commit smaller transactions, or raise bufferMemory',
      );
    }
    this.buffered.push(...held);
    this.bufferedBytes += bytes;
  }

  addOffsets(groupId: string, offsets: OffsetsToCommit): void {
    this.groupOffsets.push({ groupId, offsets });
  }

  /** No transaction is open any more (committed, aborted, or given up); what it held is dropped. */
  finished(): void {
    this.isOpen = false;
    this.buffered = [];
    this.bufferedBytes = 0;
    this.groupOffsets = [];
  }
}

function heldRecord(record: TransactionalRecord, index: number): HeldRecord {
  if (record === null || typeof record !== 'object') throw new ConfigError(`records[${index}]`, 'expected a record object { topic, value, key?, partition? }');
  checkRecordFields(record, TRANSACTIONAL_RECORD_FIELDS, `records[${index}]`);
  if (typeof record.topic !== 'string' || record.topic.length === 0) throw new ConfigError(`records[${index}].topic`, 'must be a non-empty string');
  if (record.partition !== undefined && (!Number.isSafeInteger(record.partition) || record.partition < 0)) {
    throw new ConfigError(`records[${index}].partition`, `expected a partition number (0 or more), got ${String(record.partition)}`);
  }
  const key = record.key === undefined ? undefined : toBuffer(record.key, `records[${index}].key`);
  const value = recordValue(record.value, `records[${index}]`);
  // Each record goes in a TransactionalPublish of its own, with the transactional id (≤ 256 bytes).
  checkFitsOneRequest(record.topic, key?.length, value.length, MAX_MESSAGE_SIZE - TRANSACTIONAL_ID_ROOM);
  return { topic: record.topic, key, value, partition: record.partition };
}
