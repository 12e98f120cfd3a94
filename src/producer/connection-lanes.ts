/**
 * The producer's connections ("lanes"). rivvend answers one connection's requests strictly in
 * order and makes each appended record durable before the next, so a single connection carries
 * at most one partition's write at a time; writes on different connections overlap (the broker's
 * WAL commits them as a group). Each partition is pinned to one lane, so its batches still arrive
 * in order, while batches of different partitions travel side by side.
 *
 * Lane 0 also carries metadata and producer-id requests. Lanes open on first use, each with
 * failover along the bootstrap list.
 */
import type { ClientOptions } from '../client/client.js';
import { BootstrapConnection } from './bootstrap-connection.js';
import { murmur2 } from '../protocol/murmur2.js';

export class ConnectionLanes {
  private readonly lanes: (BootstrapConnection | undefined)[];
  private readonly topicSeeds = new Map<string, number>();
  private closed = false;

  constructor(
    private readonly servers: readonly string[],
    private readonly options: ClientOptions,
    count: number,
  ) {
    this.lanes = new Array<BootstrapConnection | undefined>(count).fill(undefined);
  }

  get count(): number {
    return this.lanes.length;
  }

  /** The lane for requests that are not tied to a partition. */
  primary(): BootstrapConnection {
    return this.lane(0);
  }

  /** The lane a partition's batches always use. Topics are offset so small topics spread out. */
  forPartition(topic: string, partition: number): BootstrapConnection {
    let seed = this.topicSeeds.get(topic);
    if (seed === undefined) {
      seed = murmur2(Buffer.from(topic, 'utf8')) & 0x7fffffff;
      this.topicSeeds.set(topic, seed);
    }
    return this.lane((seed + partition) % this.lanes.length);
  }

  /** Clients currently open (for health figures). */
  opened(): BootstrapConnection[] {
    return this.lanes.filter((lane): lane is BootstrapConnection => lane !== undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.opened().map((lane) => lane.close()));
  }

  private lane(index: number): BootstrapConnection {
    let lane = this.lanes[index];
    if (lane === undefined) {
      lane = new BootstrapConnection(this.servers, this.options);
      this.lanes[index] = lane;
      // A lane first asked for after close() refuses at once instead of connecting.
      if (this.closed) void lane.close();
    }
    return lane;
  }
}
