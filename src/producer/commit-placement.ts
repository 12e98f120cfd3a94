/**
 * Where a commit's records go, with the Producer's partitioner over the Producer's metadata cache:
 * the partition a record names (checked against the topic's count, so a missing topic fails
 * instead of being created by the publish), else murmur2 of its key, else the topic's sticky
 * partition for this transaction (the next transaction's keyless records start on the next one).
 */
import type { ResolvedRetryPolicy } from '../connection-settings.js';
import { asyncScheduler } from 'rxjs';
import { ConfigError } from '../errors.js';
import { murmur2Partition } from '../protocol/murmur2.js';
import { Partitioner } from './partitioner.js';
import { DEFAULT_PRODUCER_CONFIG } from './producer-config.js';
import type { HeldRecord } from './transaction-state.js';
import { Retrier } from '../client/retrier.js';
import { TopicMetadataCache } from './topic-metadata.js';

/** A commit's record with its partition. */
export interface PlacedRecord {
  readonly topic: string;
  readonly key: Buffer | undefined;
  readonly value: Buffer;
  readonly partition: number;
}

/** A record on its way through the metadata cache. */
interface Routing {
  readonly topic: string;
  readonly key: Buffer | undefined;
  readonly explicitPartition: boolean;
  partition: number;
  settled: boolean;
  placed(partition: number): void;
  failed(error: unknown): void;
}

export interface CommitPlacementOptions {
  retry: ResolvedRetryPolicy;
  requestMetadata(topic: string): Promise<{ partitions: number }>;
  /** True once the producer is closed: metadata retries stop. */
  retriesStopped(): boolean;
}

export class CommitPlacement {
  private readonly partitioner = new Partitioner();
  private readonly metadata: TopicMetadataCache<Routing>;

  constructor(options: CommitPlacementOptions) {
    this.metadata = new TopicMetadataCache<Routing>({
      metadataMaxAgeMs: DEFAULT_PRODUCER_CONFIG.metadataMaxAgeMs,
      retrier: new Retrier(options.retry, asyncScheduler),
      requestMetadata: options.requestMetadata,
      retriesStopped: options.retriesStopped,
      onUnreachable: () => undefined,
      assign: (record, partitionCount) => this.assign(record, partitionCount),
      fail: (record, error) => record.failed(error),
    });
  }

  /** Each record with its partition, in the order given. */
  async place(records: readonly HeldRecord[]): Promise<PlacedRecord[]> {
    const routed = records.map((record) => {
      let placed!: (partition: number) => void;
      let failed!: (error: unknown) => void;
      const where = new Promise<number>((resolve, reject) => ((placed = resolve), (failed = reject)));
      const routing: Routing = {
        topic: record.topic,
        key: record.key,
        explicitPartition: record.partition !== undefined,
        partition: record.partition ?? 0,
        settled: false,
        placed: (partition) => {
          routing.settled = true;
          routing.partition = partition;
          placed(partition);
        },
        failed: (error) => {
          routing.settled = true;
          failed(error);
        },
      };
      this.metadata.route(routing);
      return where;
    });
    const partitions = await Promise.all(routed);
    const placed = records.map((record, i): PlacedRecord => ({ topic: record.topic, key: record.key, value: record.value, partition: partitions[i]! }));
    // The next transaction's keyless records of each topic start on the next partition.
    const sticky = new Map<string, number>();
    placed.forEach((record, i) => {
      if (records[i]!.partition === undefined && record.key === undefined && !sticky.has(record.topic)) sticky.set(record.topic, record.partition);
    });
    for (const [topic, partition] of sticky) this.partitioner.batchSent(topic, partition);
    return placed;
  }

  private assign(record: Routing, partitionCount: number): void {
    if (record.explicitPartition) {
      if (record.partition >= partitionCount) {
        record.failed(new ConfigError('record.partition', `topic '${record.topic}' has ${partitionCount} partition(s) (0..${partitionCount - 1}), got ${record.partition}`));
      } else {
        record.placed(record.partition);
      }
      return;
    }
    record.placed(record.key !== undefined ? murmur2Partition(record.key, partitionCount) : this.partitioner.partition(record.topic, undefined, partitionCount));
  }
}

/** A commit's records grouped by topic-partition, in publish order. */
export function byPartition(records: readonly PlacedRecord[]): Map<string, { topic: string; partition: number; indexes: number[] }> {
  const batches = new Map<string, { topic: string; partition: number; indexes: number[] }>();
  records.forEach((record, i) => {
    const key = `${record.topic}\u0000${record.partition}`;
    let batch = batches.get(key);
    if (batch === undefined) {
      batch = { topic: record.topic, partition: record.partition, indexes: [] };
      batches.set(key, batch);
    }
    batch.indexes.push(i);
  });
  return batches;
}
