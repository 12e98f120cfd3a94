/**
 * Where a record goes: its explicit partition; murmur2 of its key (the same partition every Rivven
 * client picks); or, keyless, a sticky partition kept until it has a batch's worth of bytes (or its
 * batch was sent), then rotated — few large batches instead of many small ones, and under load
 * every partition (and so every connection) gets its turn.
 */
import { murmur2Partition } from '../protocol/murmur2.js';

interface StickyState {
  partition: number;
  count: number;
  /** Bytes given to `partition` since it became the sticky one. */
  bytes: number;
}

export class Partitioner {
  private readonly sticky = new Map<string, StickyState>();

  /** @param batchSize bytes after which a sticky partition has a full batch and the next takes over */
  constructor(private readonly batchSize: number = Number.POSITIVE_INFINITY) {}

  partition(topic: string, key: Uint8Array | undefined, partitionCount: number, size = 0): number {
    if (key !== undefined) return murmur2Partition(key, partitionCount);
    let state = this.sticky.get(topic);
    if (state === undefined || state.count !== partitionCount) {
      state = { partition: Math.floor(Math.random() * partitionCount), count: partitionCount, bytes: 0 };
      this.sticky.set(topic, state);
    }
    const chosen = state.partition;
    state.bytes += size;
    // A full batch for this partition: the next keyless records start the next partition's batch.
    if (state.bytes >= this.batchSize) this.rotate(state);
    return chosen;
  }

  /** A keyless batch for this partition went out: the next keyless records go elsewhere. */
  batchSent(topic: string, partition: number): void {
    const state = this.sticky.get(topic);
    if (state !== undefined && state.partition === partition) this.rotate(state);
  }

  private rotate(state: StickyState): void {
    state.bytes = 0;
    if (state.count > 1) state.partition = (state.partition + 1) % state.count;
  }
}
