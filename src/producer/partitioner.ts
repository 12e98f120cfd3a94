/**
 * Where a record goes: its explicit partition; murmur2 of its key (the same partition every Rivven
 * client picks); or, keyless, a sticky partition kept for a whole batch and rotated when the batch
 * is sent — few large batches instead of many small ones.
 */
import { murmur2Partition } from '../protocol/murmur2.js';

export class Partitioner {
  private readonly sticky = new Map<string, { partition: number; count: number }>();

  partition(topic: string, key: Uint8Array | undefined, partitionCount: number): number {
    if (key !== undefined) return murmur2Partition(key, partitionCount);
    let state = this.sticky.get(topic);
    if (state === undefined || state.count !== partitionCount) {
      state = { partition: Math.floor(Math.random() * partitionCount), count: partitionCount };
      this.sticky.set(topic, state);
    }
    return state.partition;
  }

  /** A keyless batch for this partition went out: the next keyless records go elsewhere. */
  batchSent(topic: string, partition: number): void {
    const state = this.sticky.get(topic);
    if (state !== undefined && state.partition === partition && state.count > 1) {
      state.partition = (state.partition + 1) % state.count;
    }
  }
}
