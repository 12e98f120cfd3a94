/**
 * Partition lanes: which of the producer's `connections` lanes a partition's batches use. rivvend
 * answers one connection's requests strictly in order and makes each appended record durable
 * before the next, so a single connection carries at most one partition's write at a time; writes
 * on different connections overlap (the broker's WAL commits them as a group). Each partition is
 * pinned to one lane (murmur2 of the topic, plus the partition), so its batches still arrive in
 * order, while batches of different partitions travel side by side. Lane 0 also carries metadata
 * and producer-id requests.
 *
 * This file only maps partitions to lanes; the lanes themselves (opened on first use, with
 * failover along the list, a failed connection never reused) are client/pinned-lanes.ts.
 */
import type { ClientConnectionOptions } from '../client/client.js';
import { PinnedLanes, type LaneHandle, type PinnedLanesOptions } from '../client/pinned-lanes.js';
import { murmur2 } from '../protocol/murmur2.js';

export class PartitionLanes {
  private readonly layer: PinnedLanes<number>;
  private readonly handles: (LaneHandle | undefined)[];
  private readonly topicSeeds = new Map<string, number>();

  constructor(
    servers: readonly string[],
    options: ClientConnectionOptions,
    count: number,
    events: Pick<PinnedLanesOptions<number>, 'connect' | 'onUnreachable' | 'onConnected'> = {},
  ) {
    this.layer = new PinnedLanes<number>({ bootstrapServers: servers, client: options, closedMessage: 'the producer is closed', ...events });
    this.handles = new Array<LaneHandle | undefined>(count).fill(undefined);
  }

  get count(): number {
    return this.handles.length;
  }

  /** The lane for requests that are not tied to a partition. */
  primary(): LaneHandle {
    return this.lane(0);
  }

  /** The lane a partition's batches always use. Topics are offset so small topics spread out. */
  forPartition(topic: string, partition: number): LaneHandle {
    let seed = this.topicSeeds.get(topic);
    if (seed === undefined) {
      seed = murmur2(Buffer.from(topic, 'utf8')) & 0x7fffffff;
      this.topicSeeds.set(topic, seed);
    }
    return this.lane((seed + partition) % this.handles.length);
  }

  /** Lanes used so far (for health figures). */
  opened(): LaneHandle[] {
    return this.handles.filter((lane): lane is LaneHandle => lane !== undefined);
  }

  close(): Promise<void> {
    return this.layer.closeAll();
  }

  private lane(index: number): LaneHandle {
    let lane = this.handles[index];
    if (lane === undefined) {
      lane = this.layer.handle(index);
      this.handles[index] = lane;
    }
    return lane;
  }
}
