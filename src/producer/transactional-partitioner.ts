/**
 * Which partition a transactional record goes to: the one it names, else murmur2 of its key, else
 * a random one. A topic's partition count is read from the broker once and kept.
 */
import { firstValueFrom } from 'rxjs';
import type { Client } from '../client/client.js';
import type { Bytes } from '../client/client-types.js';
import { murmur2Partition } from '../protocol/murmur2.js';

export class TransactionalPartitioner {
  private readonly partitionCounts = new Map<string, number>();

  async partitionFor(record: { topic: string; key?: Bytes; partition?: number }, client: Client): Promise<number> {
    if (record.partition !== undefined) return record.partition;
    let count = this.partitionCounts.get(record.topic);
    if (count === undefined) {
      count = (await firstValueFrom(client.getMetadata$(record.topic))).partitions;
      this.partitionCounts.set(record.topic, count);
    }
    const key = record.key === undefined ? undefined : typeof record.key === 'string' ? Buffer.from(record.key) : record.key;
    return key === undefined ? Math.floor(Math.random() * count) : murmur2Partition(key, count);
  }
}
