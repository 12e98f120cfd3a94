/**
 * The open transaction as the client holds it: the records published into it and the consumed
 * offsets sent with it, in order, until commit. Nothing of an open transaction is on the broker
 * (transactional-producer.ts says why). No I/O.
 */
import type { Bytes } from '../client/client-types.js';

export interface TransactionalRecord {
  topic: string;
  value: Bytes;
  key?: Bytes;
  partition?: number;
}

export type OffsetsToCommit = readonly (readonly [topic: string, partition: number, nextOffset: bigint])[];

export interface GroupOffsets {
  groupId: string;
  offsets: OffsetsToCommit;
}

export class TransactionState {
  private isOpen = false;
  private buffered: TransactionalRecord[] = [];
  private bufferedBytes = 0;
  private groupOffsets: GroupOffsets[] = [];

  get open(): boolean {
    return this.isOpen;
  }

  /** Records published into the open transaction, in publish order. */
  get records(): readonly TransactionalRecord[] {
    return this.buffered;
  }

  /** Key and value bytes of the records held (strings counted as UTF-8). */
  get bytes(): number {
    return this.bufferedBytes;
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

  add(records: readonly TransactionalRecord[], bytes: number): void {
    this.buffered.push(...records);
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
