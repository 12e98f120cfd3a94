/**
 * Read a whole topic as a downstream reader would, for exactly-once checks: every record visible
 * under an isolation level, partition by partition, from the first offset to the end.
 */
import { firstValueFrom } from 'rxjs';
import type { Client } from '../../src/client/client';
import type { IsolationLevel } from '../../src/client/client-types';

export interface ReadRecord {
  partition: number;
  offset: bigint;
  value: string;
}

const PAGE = 1000;

/** Every record of one partition visible under `isolationLevel`, in offset order. */
export async function readPartition(client: Client, topic: string, partition: number, isolationLevel: IsolationLevel): Promise<ReadRecord[]> {
  const { earliest, latest } = await firstValueFrom(client.getOffsetBounds$(topic, partition));
  const out: ReadRecord[] = [];
  let offset = earliest;
  while (offset < latest) {
    const page = await firstValueFrom(client.consume$(topic, { partition, offset, maxMessages: PAGE, isolationLevel }));
    const last = page[page.length - 1];
    // An empty page with records left means the whole window is invisible (markers, aborted records).
    if (last === undefined) {
      offset += BigInt(PAGE);
      continue;
    }
    for (const r of page) if (r.offset >= offset) out.push({ partition, offset: r.offset, value: r.value.toString() });
    offset = last.offset + 1n;
  }
  return out;
}

export async function readTopic(client: Client, topic: string, partitions: number, isolationLevel: IsolationLevel): Promise<ReadRecord[]> {
  const all = await Promise.all(Array.from({ length: partitions }, (_, p) => readPartition(client, topic, p, isolationLevel)));
  return all.flat();
}

/** Values seen more than once, with their counts. */
export function duplicates(values: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  for (const [v, n] of counts) if (n === 1) counts.delete(v);
  return counts;
}
