/**
 * The transactional producer's next sequence per partition number: rivvend 0.0.22 keys idempotence
 * sequences by (producer id, partition) only, whatever the topic.
 */
export class PartitionSequences {
  private readonly next = new Map<number, number>();

  /** Take the next sequence of each record's partition, in record order. */
  take(partitions: readonly number[]): number[] {
    return partitions.map((partition) => {
      const sequence = this.next.get(partition) ?? 0;
      this.next.set(partition, sequence + 1);
      return sequence;
    });
  }

  /** After a partly failed pipeline, continue each partition's sequence after its last accepted record. */
  resync(partitions: readonly number[], sequences: readonly number[], settled: readonly PromiseSettledResult<unknown>[]): void {
    const next = new Map<number, number>();
    partitions.forEach((partition, i) => {
      if (!next.has(partition)) next.set(partition, sequences[i]!);
      if (settled[i]!.status === 'fulfilled') next.set(partition, Math.max(next.get(partition)!, sequences[i]! + 1));
    });
    for (const [partition, sequence] of next) this.next.set(partition, sequence);
  }

  /** A new producer id (or epoch): every partition starts again from 0. */
  clear(): void {
    this.next.clear();
  }
}
