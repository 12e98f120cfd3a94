/**
 * The log as read back (the other half of a consistency check, consistency.ts): every partition of
 * the given topics from offset 0 to its end, read_uncommitted and read_committed, through a
 * `LogReader` — by default `clientLogReader`: `Client.consume$`, values decoded as an application
 * sees them, plus a raw pass that counts values stored framed/compressed.
 *
 * Only type imports from the client: the module runs under jest and, transpiled, in child processes.
 */
import { firstValueFrom } from 'rxjs';
import type { Client } from '../../src/client/client.js';
import type { IsolationLevel } from '../../src/client/client-types.js';

export interface ReadRecord {
  offset: bigint;
  key: Buffer | undefined;
  value: Buffer;
}

/** One partition read back: every record each reader got, in the order it got them. */
export interface PartitionLog {
  topic: string;
  partition: number;
  /** The broker's log end (next offset) when the reading began. */
  logEnd: bigint;
  /** read_uncommitted, values as an application sees them. */
  uncommitted: ReadRecord[];
  /** read_committed, values as an application sees them. */
  committed: ReadRecord[];
  /** read_uncommitted, values as stored (to count the ones stored framed); absent if not read. */
  stored?: ReadRecord[];
}

/** How the checker reaches the log; `clientLogReader` is the one over the public `Client`. */
export interface LogReader {
  partitionCount(topic: string): Promise<number>;
  /** The next offset to be written (the log end). */
  logEnd(topic: string, partition: number): Promise<bigint>;
  /**
   * Records from `offset` on, at most one page, immediately (no long poll). `decoded`: values as an
   * application sees them; otherwise as stored.
   */
  fetch(topic: string, partition: number, offset: bigint, isolation: IsolationLevel, decoded: boolean): Promise<ReadRecord[]>;
}

export function clientLogReader(client: Client, pageSize = 1000): LogReader {
  return {
    partitionCount: async (topic) => (await firstValueFrom(client.getMetadata$(topic))).partitions,
    logEnd: async (topic, partition) => (await firstValueFrom(client.getOffsetBounds$(topic, partition))).latest,
    fetch: async (topic, partition, offset, isolationLevel, decoded) =>
      (
        await firstValueFrom(
          // 'detect' is Client.consume$'s (and the Consumer's) default: what an application reads.
          client.consume$(topic, { partition, offset, maxMessages: pageSize, isolationLevel, valueFraming: decoded ? 'detect' : 'raw' }),
        )
      ).map((r) => ({ offset: r.offset, key: r.key, value: r.value })),
  };
}

/**
 * Read every partition of `topics` from offset 0 to the log end, read_uncommitted then
 * read_committed (then read_uncommitted raw unless `stored: false`). Run it once the writers are
 * done: the log must hold still while it is read.
 */
export async function readLog(reader: LogReader, topics: readonly string[], options: { stored?: boolean } = {}): Promise<PartitionLog[]> {
  const logs: PartitionLog[] = [];
  for (const topic of topics) {
    const partitions = await reader.partitionCount(topic);
    for (let partition = 0; partition < partitions; partition++) {
      const logEnd = await reader.logEnd(topic, partition);
      const pass = (isolation: IsolationLevel, decoded: boolean, guide?: readonly ReadRecord[]) =>
        readPartition(reader, topic, partition, logEnd, isolation, decoded, guide);
      const uncommitted = await pass('read_uncommitted', true);
      const committed = await pass('read_committed', true, uncommitted);
      const log: PartitionLog = { topic, partition, logEnd, uncommitted, committed };
      if (options.stored !== false) log.stored = await pass('read_uncommitted', false);
      logs.push(log);
    }
  }
  return logs;
}

/**
 * One reader's pass over a partition, keeping everything the broker returned, in its order
 * (repeats and offsets going backwards included: the checker counts them).
 *
 * An empty page before the log end is a window holding nothing this reader may see: rivvend's
 * read_committed filter runs after it read a page, so a page of aborted records comes back empty,
 * and transaction markers take offsets but are never returned. The pass steps past it without
 * skipping anything it could have seen: to the next offset read_uncommitted found (`guide`), or one
 * offset on (read_uncommitted itself: only markers can be in such a window).
 */
async function readPartition(
  reader: LogReader,
  topic: string,
  partition: number,
  logEnd: bigint,
  isolation: IsolationLevel,
  decoded: boolean,
  guide?: readonly ReadRecord[],
): Promise<ReadRecord[]> {
  const guideOffsets = guide === undefined ? undefined : [...new Set(guide.map((r) => r.offset))].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  const out: ReadRecord[] = [];
  let offset = 0n;
  while (offset < logEnd) {
    const page = await reader.fetch(topic, partition, offset, isolation, decoded);
    if (page.length === 0) {
      if (guideOffsets === undefined) {
        offset += 1n;
        continue;
      }
      const next = guideOffsets.find((o) => o > offset);
      if (next === undefined) break;
      offset = next;
      continue;
    }
    out.push(...page);
    const highest = page.reduce((max, r) => (r.offset > max ? r.offset : max), page[0]!.offset);
    // A page whose offsets went backwards must still move the pass on.
    offset = highest >= offset ? highest + 1n : offset + 1n;
  }
  return out;
}
