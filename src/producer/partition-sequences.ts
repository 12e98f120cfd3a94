/**
 * The broker's sequence model, kept once for both producers: the next sequence number per
 * **partition number**, whatever the topic.
 *
 * rivvend 0.0.22 (`rivven-core` `idempotent.rs`) keys a producer's idempotence state by
 * (producer id, partition number) only — `ProducerMetadata.partitions: HashMap<u32, …>` — so
 * topic `A` partition 0 and topic `B` partition 0 share one sequence. A batch is accepted when its
 * base sequence is the last one recorded for that partition number + 1; one at or below it is
 * answered as a *duplicate* with the offset cached for that sequence. A client that numbered
 * sequences per topic-partition would have `B`'s first batch (sequence 0) answered as a duplicate
 * of `A`'s, with `A`'s offset, and never stored. Hence: one counter per partition number, and (in
 * the Producer) one batch in flight per partition number, so sequences reach the broker in order.
 */

/** The largest sequence the broker's `i32` holds; a session that would pass it takes a new producer id. */
export const MAX_SEQUENCE = 2 ** 31 - 1;

export class PartitionSequences {
  private readonly nextByPartition = new Map<number, number>();

  /** The sequence the next record of `partition` (any topic) must carry. */
  next(partition: number): number {
    return this.nextByPartition.get(partition) ?? 0;
  }

  /** Whether `count` more records fit in the partition's sequence space of this producer id. */
  fits(partition: number, count: number): boolean {
    return this.next(partition) + count - 1 <= MAX_SEQUENCE;
  }

  /** The broker recorded `count` records from `next(partition)` on: move past them. */
  advance(partition: number, count: number): void {
    this.nextByPartition.set(partition, this.next(partition) + count);
  }

  /** Take the next sequence of each record's partition, in record order. */
  take(partitions: readonly number[]): number[] {
    return partitions.map((partition) => {
      const sequence = this.next(partition);
      this.nextByPartition.set(partition, sequence + 1);
      return sequence;
    });
  }

  /** A new producer id (or epoch): every partition starts again from 0. */
  clear(): void {
    this.nextByPartition.clear();
  }
}
