/**
 * Seeks whose target offset the broker knows: back to the group's committed offsets
 * (rewindToCommitted$), to the log's start or end, to a timestamp. The target is read over the
 * coordination connection; the partitions then seek there (owned-partitions.ts).
 */
import { EMPTY, Observable, concatMap, defer, forkJoin, from, map, of } from 'rxjs';
import type { Client } from '../client/client.js';
import type { TopicPartition } from './consumer-record.js';
import type { OffsetStore } from './offset-store.js';
import type { OwnedPartitions } from './owned-partitions.js';
import type { PartitionState } from './partition-state.js';

export interface OffsetSeeksHost {
  readonly owned: OwnedPartitions;
  readonly offsets: OffsetStore;
  /** The coordination connection (opened on first use). */
  coordinator(): Promise<Client>;
}

export class OffsetSeeks {
  constructor(private readonly host: OffsetSeeksHost) {}

  /** See Consumer.rewindToCommitted$. */
  rewindToCommitted$(partitions?: TopicPartition[]): Observable<void> {
    return new Observable<void>((subscriber) => {
      const states = this.host.owned.live(partitions);
      for (const state of states) {
        state.rewinds++;
        state.restart(state.position);
      }
      void this.completeRewind(states).then(
        () => {
          subscriber.next();
          subscriber.complete();
        },
        (error: unknown) => subscriber.error(error),
      );
    });
  }

  toBeginning$(partitions?: TopicPartition[]): Observable<void> {
    return this.seekEach$(partitions, (c, tp) => c.getOffsetBounds$(tp.topic, tp.partition).pipe(map((b) => b.earliest)));
  }

  toEnd$(partitions?: TopicPartition[]): Observable<void> {
    return this.seekEach$(partitions, (c, tp) => c.getOffsetBounds$(tp.topic, tp.partition).pipe(map((b) => b.latest)));
  }

  /** The first record with timestamp ≥ `timestamp`, the end if there is none. */
  toTimestamp$(timestamp: bigint | number | Date, partitions?: TopicPartition[]): Observable<void> {
    return this.seekEach$(partitions, (c, tp) =>
      c.getOffsetForTimestamp$(tp.topic, tp.partition, timestamp).pipe(
        concatMap((offset) => (offset !== undefined ? of(offset) : c.getOffsetBounds$(tp.topic, tp.partition).pipe(map((b) => b.latest)))),
      ),
    );
  }

  private async completeRewind(states: PartitionState[]): Promise<void> {
    let failed = true;
    try {
      const client = await this.host.coordinator();
      const targets = await Promise.all(states.map((state) => this.host.offsets.start(client, state.topic, state.partition)));
      states.forEach((state, i) => {
        const { committed, position } = targets[i]!;
        state.restart(position);
        state.committed = committed;
        state.rewindFailed = false;
      });
      failed = false;
    } finally {
      for (const state of states) {
        state.rewinds--;
        if (failed) state.rewindFailed = true;
        state.signal();
      }
    }
  }

  /** Seek the given partitions (default: all owned) to the offset `offsetOf` reads for each. */
  private seekEach$(partitions: TopicPartition[] | undefined, offsetOf: (client: Client, tp: TopicPartition) => Observable<bigint>): Observable<void> {
    const { owned } = this.host;
    return defer(() => {
      const tps = partitions ?? owned.all().map((s) => ({ topic: s.topic, partition: s.partition }));
      if (tps.length === 0) return EMPTY;
      return from(this.host.coordinator()).pipe(
        concatMap((client) => forkJoin(tps.map((tp) => offsetOf(client, tp).pipe(map((offset) => owned.seek(tp.topic, tp.partition, offset)))))),
        map(() => undefined),
      );
    });
  }
}
